"""--record: the command line, kept in the object's `kubernetes.io/change-cause` annotation.

kubectl's format (RecordFlags.parseCommandArguments), kept here: the program's base name, then every
positional word in order (the command and its arguments), then every flag in the order given, each
under its long name with `=value`; a boolean flag reads `=true`. So

    skiff -n web apply -f x.yaml --record              -> skiff apply --namespace=web --filename=x.yaml --record=true
    skiff scale deploy/web --replicas=3 --record       -> skiff scale deploy/web --replicas=3 --record=true
    skiff create deployment web --image=nginx --record -> skiff create deployment web --image=nginx --record=true

The program is always called `skiff` (kubectl uses argv[0]'s base name; `python -m cli` would read
`__main__.py`). A command line that does not parse records nothing, as in kubectl. Which commands
honour --record, as in kubectl 1.20: apply, create, scale, edit, label, annotate, expose, set image. apply and
create put the annotation into the object they send (so apply's last-applied record carries it too);
scale, which writes through the scale subresource, merge-patches it onto the object afterwards.
`--record=false` (or no flag) records nothing; kubectl's help promises to update an existing
annotation when the flag is absent, which kubectl 1.20's code does not do, so neither does Skiff.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
from typing import Sequence

from cli.api import Api, ServerError
from cli.manifests import Manifest
from client.kinds import Kind

CHANGE_CAUSE = "kubernetes.io/change-cause"
PROGRAM = "skiff"


def add_flag(parser: argparse.ArgumentParser) -> None:
    """--record, --record=true, --record=false. Spelled as option strings, not as an optional value,
    so that a bare `--record` never swallows the argument after it (`--record deploy/web`)."""
    parser.add_argument("--record", "--record=true", dest="record", action="store_true",
                        help="record the command line in the kubernetes.io/change-cause annotation "
                             "(--record=false: do not)")
    parser.add_argument("--record=false", dest="record", action="store_false", help=argparse.SUPPRESS)


def _long_name(action: argparse.Action) -> str:
    longs = [s for s in action.option_strings if s.startswith("--")]
    return (longs[0] if longs else action.option_strings[0]).split("=", 1)[0].lstrip("-")


def _shown(value) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def change_cause(argv: Sequence[str], parser: argparse.ArgumentParser, program: str = PROGRAM) -> str:
    """The change-cause text for `argv` (the arguments after the program name) as `parser` reads
    them; "" when a token is not one of the parser's options. Pure."""
    options = parser._option_string_actions  # argparse keeps no public index of its option strings
    words: list[str] = []
    flags: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if token == "--":
            words.extend(argv[i:])
            break
        if not token.startswith("-") or token == "-":
            words.append(token)
            continue
        action, value = options.get(token), None
        if action is None and token.startswith("--") and "=" in token:
            option, value = token.split("=", 1)
            action = options.get(option)
        elif action is None and not token.startswith("--") and len(token) > 2:
            action, value = options.get(token[:2]), token[2:]   # -fweb.yaml
        if action is None or isinstance(action, argparse._HelpAction):
            return ""
        if action.nargs == 0:
            value = action.const if value is None else value
        elif value is None:
            takes_next = i < len(argv) and (action.nargs != "?" or not argv[i].startswith("-"))
            if takes_next:
                value, i = argv[i], i + 1
            elif action.nargs == "?":
                value = action.const
            else:
                return ""
        flags.append(f" --{_long_name(action)}={_shown(value)}")
    return " ".join([program, *words]) + "".join(flags)


def cause_of(args: argparse.Namespace) -> str | None:
    """The change cause to record for this invocation, or None without --record.

    `args.command_line` is the argv main() was given (global flags included)."""
    if not getattr(args, "record", False):
        return None
    if not hasattr(args, "_change_cause"):   # computed once per invocation (apply asks per object)
        from cli.main import build_parsers, split_command  # main imports the commands: import it late

        argv = list(getattr(args, "command_line", None) or [])
        _, subs = build_parsers()
        command, _, _ = split_command(argv, list(subs))
        args._change_cause = (change_cause(argv, subs[command]) or None) if command else None
    return args._change_cause


def annotate_dict(data: dict, cause: str | None) -> dict:
    """A copy of a Kubernetes-JSON object with the change cause set (unchanged without one)."""
    if not cause:
        return data
    out = copy.deepcopy(data)
    meta = out.setdefault("metadata", {})
    meta["annotations"] = {**(meta.get("annotations") or {}), CHANGE_CAUSE: cause}
    return out


def annotate_manifest(m: Manifest, cause: str | None) -> Manifest:
    """The manifest with the change cause in both its document and its decoded object."""
    if not cause:
        return m
    obj = type(m.obj)()
    obj.CopyFrom(m.obj)
    obj.metadata.annotations[CHANGE_CAUSE] = cause
    return dataclasses.replace(m, data=annotate_dict(m.data, cause), obj=obj)


def patch_change_cause(api: Api, kind: Kind, namespace: str, name: str, cause: str | None) -> None:
    """Merge-patches the annotation onto a live object (scale --record, which writes no object itself).

    A refused patch is absorbed, as kubectl absorbs it: the scale itself succeeded, and the record is
    a note about it, not part of it."""
    if not cause:
        return
    try:
        api.patch(kind, namespace, name, {"metadata": {"annotations": {CHANGE_CAUSE: cause}}})
    except ServerError:
        pass
