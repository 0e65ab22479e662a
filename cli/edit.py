"""`skiff edit`: change live objects in an editor, kubectl edit's flow.

    skiff edit deployment web          # $SKIFF_EDITOR, else $KUBE_EDITOR, else $EDITOR, else vi
    skiff edit deploy/web svc/web      # several objects: one v1 List in the file
    skiff edit pods -l app=web -o json # edit JSON instead of YAML

The flow, as kubectl's (1.20):
1. Fetch the objects; write them to a temp file (`skiff-edit-*.yaml`) under a header of `#` comments.
2. Run the editor on it. A file that, comments aside, is unchanged: `Edit cancelled, no changes
   made.` (exit 0); empty: `Edit cancelled, saved file was empty.` (exit 0).
3. Per object: unchanged -> `<kind>/<name> skipped`; else Update, with the resourceVersion read in
   step 1 as precondition -> `deployment.apps/web edited`. On a Conflict (someone wrote since step 1)
   the user's change, as a JSON merge patch from what they saw to what they saved, is applied to the
   latest object with Patch, as kubectl does; a resourceVersion the user edited is their own
   precondition and its Conflict is final.
4. A syntax error, a field that does not decode (`spec.replicass: unknown field`) or an Invalid
   answer reopens the editor on what the user saved, with the reasons as comments under the header
   (`# deployments.apps "web" was not valid:` / `# * spec.replicas: Invalid value: -1: ...`); stderr
   says `error: deployments.apps "web" is invalid`. Saving the same content again gives up:
   `error: Edit cancelled, no valid changes were saved.` (exit 1), after the reasons (a Skiff
   addition, for editors run by scripts) and where the file was kept.
5. A changed apiVersion, kind or name, or namespace, ends the edit (exit 1) with kubectl's message;
   NotFound and other errors keep the file and name it (exit 1).

Decisions are pure (`editor_argv`, `header`, `strip_comments`, `render`, `merge_patch`); `run_edit`
and `Session` do the I/O: the temp file, the editor subprocess, the API calls.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from google.protobuf.message import Message

from cli import printers, record
from cli.api import Api, ServerError
from cli.commands import NO_RESOURCES, Context, UsageError, file_targets, namespace_of, resolve_targets
from cli.manifests import ManifestError, parse_documents
from client import codec, kinds
from client.kinds import Kind

EDITOR_ENV = ("SKIFF_EDITOR", "KUBE_EDITOR", "EDITOR")
DEFAULT_EDITOR = "vi"
HEADER = """\
# Please edit the object below. Lines beginning with a '#' will be ignored,
# and an empty file will abort the edit. If an error occurs while saving this file will be
# reopened with the relevant failures.
#
"""


class EditError(Exception):
    """Ends the edit with exit 1; str() is the message after `error: `."""


@dataclass(frozen=True)
class Reason:
    """One failure written into the reopened file: a heading and its items."""
    head: str
    items: tuple[str, ...] = ()


def add_parsers(subs: dict, make_parser, global_flags) -> None:
    p = subs["edit"] = make_parser(
        prog="skiff edit", formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="skiff edit TYPE NAME... | TYPE/NAME... | TYPE [-l SEL] | -f FILE [-o yaml|json] [flags]",
        description="""\
Edit live objects in your editor ($SKIFF_EDITOR, else $KUBE_EDITOR, else $EDITOR, else vi) and save
them back when the editor exits. A file left unchanged cancels the edit; one that fails is reopened
with the reasons at the top; saving it again unchanged gives up (exit 1) and keeps the file.

Examples:
  skiff edit deployment web
  skiff edit svc/web -o json
  EDITOR="code --wait" skiff edit deploy/web""")
    global_flags(p, suppress=True)
    p.add_argument("args", nargs="*", metavar="TYPE NAME", help="a kind and names, or kind/name")
    p.add_argument("-f", "--filename", action="append", default=[], metavar="FILE",
                   help="edit the live objects a file, directory or URL names")
    p.add_argument("-l", "--selector", metavar="SELECTOR", help="edit every object the label selector matches")
    p.add_argument("-o", "--output", choices=("yaml", "json"), help="the format to edit in (default: yaml)")
    record.add_flag(p)


# -- pure ---------------------------------------------------------------------------------------
def editor_argv(env: Mapping[str, str], path: str) -> list[str]:
    """The command that edits `path`: the first editor set in EDITOR_ENV, else vi. As kubectl: an
    editor with spaces is split on them; with quotes or backslashes too, it goes to the shell."""
    editor = next((env[name] for name in EDITOR_ENV if env.get(name)), DEFAULT_EDITOR)
    if " " not in editor:
        return [editor, path]
    if not any(c in editor for c in "\"'\\"):
        return [*editor.split(" "), path]
    return [env.get("SHELL") or "/bin/sh", "-c", f"{editor} {shlex.quote(path)}"]


def _hash_on_line_break(text: str) -> str:
    return text.replace("\n", "\n# ")


def header(reasons: Sequence[Reason]) -> str:
    """kubectl's header, then each reason as `# head:` / `# * item` / `#`."""
    out = [HEADER]
    for r in reasons:
        out.append(f"# {_hash_on_line_break(r.head)}{':' if r.items else ''}\n")
        out.extend(f"# * {_hash_on_line_break(item)}\n" for item in r.items)
        out.append("#\n")
    return "".join(out)


def reasons_text(reasons: Sequence[Reason]) -> str:
    """The reasons as plain lines for stderr."""
    lines = []
    for r in reasons:
        lines.append(r.head + (":" if r.items else ""))
        lines.extend(f"* {item}" for item in r.items)
    return "\n".join(lines)


def strip_comments(text: str) -> str:
    """kubectl's ManualStrip: drops lines whose first non-blank character is `#` (but keeps `#!`)."""
    lines = text.split("\n")
    kept = [line for line in lines if not (line.strip().startswith("#") and not line.strip().startswith("#!"))]
    return "\n".join(kept)


def has_content(text: str) -> bool:
    return any(line.strip() for line in strip_comments(text).split("\n"))


def render(objs: Sequence[tuple[Kind, Message]], fmt: str) -> str:
    """The objects as the editor shows them: one object, or several in a v1 List."""
    if len(objs) == 1:
        kind, obj = objs[0]
        return printers.dump(printers.object_dict(kind, obj), fmt)
    return printers.dump({"apiVersion": "v1", "items": [printers.object_dict(k, o) for k, o in objs],
                          "kind": "List", "metadata": {"resourceVersion": "", "selfLink": ""}}, fmt)


def merge_patch(original, edited):
    """The JSON merge patch (RFC 7386) that turns `original` into `edited`: changed keys with their new
    values (objects recursively), removed keys as null. Lists are replaced whole."""
    if not (isinstance(original, dict) and isinstance(edited, dict)):
        return edited
    patch = {}
    for key in original:
        if key not in edited:
            patch[key] = None
    for key, value in edited.items():
        if key not in original:
            patch[key] = value
        elif original[key] != value:
            if isinstance(value, dict) and isinstance(original[key], dict):
                patch[key] = merge_patch(original[key], value)
            else:
                patch[key] = value
    return patch


def items_of(docs: Sequence) -> list:
    """The edited objects: the documents, a v1 List standing for its items."""
    out = []
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "List" and doc.get("apiVersion") == "v1":
            out.extend(i for i in (doc.get("items") or []) if i is not None)
        else:
            out.append(doc)
    return out


# -- the shell ----------------------------------------------------------------------------------
def run_edit(ctx: Context, args) -> int:
    fmt = args.output or "yaml"
    cause = record.cause_of(args)
    with ctx.api() as api:
        originals = _fetch(ctx, api, args)
        if not originals:
            raise UsageError("edit cancelled, no objects found")
        session = Session(ctx, api, originals, fmt, cause, dict(os.environ))
        try:
            return session.run()
        except EditError as e:
            if session.path and os.path.exists(session.path) and session.keep:
                ctx.complain(f'A copy of your changes has been stored to "{session.path}"')
            ctx.complain(f"error: {e}")
            return 1
        finally:
            if session.path and os.path.exists(session.path) and not session.keep:
                os.unlink(session.path)


def _fetch(ctx: Context, api: Api, args) -> list[tuple[Kind, Message]]:
    if args.filename:
        found, errors = file_targets(ctx, args.filename, args.args)
        if errors:
            raise UsageError(errors[0])
        return [(m.kind, api.get(m.kind, ns, m.name)) for m, ns in found]
    if not args.args:
        raise UsageError(NO_RESOURCES)
    targets = resolve_targets(args.args)
    named = [(k, n) for k, n in targets if n is not None]
    if named and args.selector:
        raise UsageError("name cannot be provided when a selector is specified")
    if named:
        return [(k, api.get(k, namespace_of(k, None, ctx.namespace), n)) for k, n in named]
    kind = targets[0][0]
    objs, _ = api.list(kind, namespace_of(kind, None, ctx.namespace), label_selector=args.selector or "")
    return [(kind, o) for o in objs]


@dataclass
class _Round:
    """What one save of the file led to."""
    reasons: list[Reason] = field(default_factory=list)
    notfound: int = 0
    retryable: int = 0


class Session:
    """One `skiff edit`: the loop of editor runs over one temp file until saved, cancelled or failed."""

    def __init__(self, ctx: Context, api: Api, originals: list[tuple[Kind, Message]], fmt: str,
                 cause: str | None, env: Mapping[str, str]):
        self.ctx, self.api, self.fmt, self.cause, self.env = ctx, api, fmt, cause, env
        self.originals = originals
        self.path = ""
        self.keep = False     # keep the file at the end (it holds the user's unsaved work)

    def run(self) -> int:
        original_text = HEADER + render(self.originals, self.fmt)
        fd, self.path = tempfile.mkstemp(prefix="skiff-edit-", suffix="." + self.fmt)
        os.close(fd)
        text, previous, reasons = original_text, None, []
        while True:
            edited = self._edit(text)
            if previous is not None and strip_comments(edited) == strip_comments(previous):
                self.keep = True
                self.ctx.complain(reasons_text(reasons))
                raise EditError("Edit cancelled, no valid changes were saved.")
            self.keep = False
            if strip_comments(edited) == strip_comments(original_text):
                self.ctx.complain("Edit cancelled, no changes made.")
                return 0
            if not has_content(edited):
                self.ctx.complain("Edit cancelled, saved file was empty.")
                return 0
            self.keep = True   # from here on the file holds changes the user may want back
            saved = self._save(edited)
            if saved.retryable:
                self.ctx.complain(f"You can run `skiff apply -f {self.path}` to try this update again.")
                return 1
            if saved.notfound:
                self.ctx.complain(f'The edits you made on deleted resources have been saved to "{self.path}"')
                return 1
            if not saved.reasons:
                self.keep = False
                return 0
            reasons = saved.reasons
            previous = edited
            text = header(reasons) + strip_comments(edited)

    def _edit(self, text: str) -> str:
        with open(self.path, "w", encoding="utf-8") as f:
            f.write(text)
        argv = editor_argv(self.env, self.path)
        shown = " ".join(argv[:-1]) if argv[-1] == self.path else argv[-1]
        try:
            done = subprocess.run(argv)
        except OSError:
            raise EditError(f'unable to launch the editor "{shown}"') from None
        if done.returncode != 0:
            raise EditError(f'there was a problem with the editor "{shown}"')
        with open(self.path, encoding="utf-8") as f:
            return f.read()

    def _save(self, edited: str) -> _Round:
        """Decodes the saved file and writes each changed object; what went wrong, for the next round."""
        result = _Round()
        try:
            docs = parse_documents(self.path, edited)
        except ManifestError as e:
            detail = str(e).split(": ", 1)[1] if str(e).startswith("error parsing ") else str(e)
            result.reasons.append(Reason(f"The edited file had a syntax error: {detail}"))
            return result
        for item in items_of(docs):
            if not isinstance(item, dict) or not item.get("apiVersion") or not item.get("kind"):
                result.reasons.append(Reason("The edited file had a syntax error: error validating data: "
                                             "apiVersion and kind must be set on every object"))
                continue
            self._save_one(item, result)
        return result

    def _original(self, item: dict) -> tuple[Kind, Message]:
        meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        try:
            kind = kinds.by_gvk(item["apiVersion"], item["kind"])
        except kinds.UnknownKind:
            kind = None
        for k, obj in self.originals:
            if k is kind and obj.metadata.name == meta.get("name"):
                ns = meta.get("namespace") or ""
                if kind.namespaced and ns and ns != obj.metadata.namespace:
                    raise EditError(f'the namespace from the provided object "{ns}" does not match the namespace '
                                    f'"{obj.metadata.namespace}". You must pass \'--namespace={ns}\' to perform '
                                    "this operation.")
                return k, obj
        raise EditError("At least one of apiVersion, kind and name was changed")

    def _save_one(self, item: dict, result: _Round) -> None:
        kind, orig = self._original(item)
        name = orig.metadata.name
        what = f'{kind.group_resource} "{name}"'
        try:
            obj = codec.from_dict(kind.message, item)
        except codec.DecodeError as e:
            self.ctx.complain(f"error: {what} is invalid")
            result.reasons.append(Reason(f"{what} was not valid", (str(e),)))
            return
        seen, saved = printers.object_dict(kind, orig), printers.object_dict(kind, obj)
        if seen == saved:
            self.ctx.say(f"{printers.object_name(kind, name)} skipped")
            return
        if self.cause:
            obj.metadata.annotations[record.CHANGE_CAUSE] = self.cause
            saved = printers.object_dict(kind, obj)
        if kind.namespaced and not obj.metadata.namespace:
            obj.metadata.namespace = orig.metadata.namespace
        try:
            self._write(kind, orig, obj, seen, saved)
        except ServerError as e:
            if e.reason == "Invalid":
                self.ctx.complain(f"error: {what} is invalid")
                causes = e.status.details.causes if e.status is not None else []
                items = tuple(f"{c.field}: {c.message}" if c.field else c.message for c in causes) or (e.message,)
                result.reasons.append(Reason(f"{what} was not valid", items))
            elif e.code == "NOT_FOUND":
                self.ctx.complain(f"error: {what} could not be found on the server")
                result.notfound += 1
            else:
                self.ctx.complain(f"error: {what} could not be patched: {e.message}")
                result.retryable += 1
            return
        self.ctx.say(f"{printers.object_name(kind, name)} edited")

    def _write(self, kind: Kind, orig: Message, obj: Message, seen: dict, saved: dict) -> Message:
        try:
            return self.api.update(obj)
        except ServerError as e:
            if e.code != "ABORTED" or obj.metadata.resource_version != orig.metadata.resource_version:
                raise
        # Written by someone else since we read it: apply what the user changed, not what they saw.
        patch = merge_patch({k: v for k, v in seen.items() if k != "status"},
                            {k: v for k, v in saved.items() if k != "status"})
        return self.api.patch(kind, orig.metadata.namespace, orig.metadata.name, patch)
