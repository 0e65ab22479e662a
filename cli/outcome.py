"""How a mutating command reports what it did (`deployment.apps/web created`), and --dry-run's values.

    strategy = dry_run_of(args.dry_run, ctx.complain)       # "none" | "client" | "server"
    Reporter(ctx.out, args.output).emit(kind, obj, "created", strategy)

Shared by create, label, annotate, edit and expose, so their lines read the same. kubectl's printers:
without -o a command prints `<kind>.<group>/<name> <operation>`, the operation followed by ` (dry run)`
for --dry-run=client and ` (server dry run)` for --dry-run=server; `-o name` prints the name only;
`-o json|yaml` the object (the server's answer, or the object built locally for a client dry run).
Pure: the warning sink comes in.
"""
from __future__ import annotations

from typing import Callable, TextIO

from google.protobuf.message import Message

from cli import printers
from client.kinds import Kind

DRY_RUN_VALUES = ("none", "client", "server")
BARE_DRY_RUN = "unchanged"  # what a bare `--dry-run` stands for (pflag's NoOptDefVal, as kubectl has it)
OUTPUTS = ("json", "yaml", "name")


class OutcomeError(ValueError):
    """A --dry-run value that is not one of DRY_RUN_VALUES; str() is kubectl's message."""


def dry_run_of(value: str | None, warn: Callable[[str], None]) -> str:
    """kubectl's GetDryRunStrategy: "none", "client" or "server". A bare --dry-run and the old boolean
    values still work, with kubectl's deprecation warning."""
    if value is None or value == "none":
        return "none"
    if value in ("client", "server"):
        return value
    if value == BARE_DRY_RUN:
        warn("warning: --dry-run is deprecated and can be replaced with --dry-run=client.")
        return "client"
    lowered = value.lower()
    if lowered in ("true", "1", "t"):
        warn(f"warning: --dry-run={value} is deprecated (boolean value) and can be replaced with --dry-run=client.")
        return "client"
    if lowered in ("false", "0", "f"):
        warn(f"warning: --dry-run={value} is deprecated (boolean value) and can be replaced with --dry-run=none.")
        return "none"
    raise OutcomeError(f'Invalid dry-run value ({value}). Must be "none", "server", or "client".')


def operation(verb: str, strategy: str) -> str:
    """`created`, `created (dry run)`, `created (server dry run)`."""
    return {"client": f"{verb} (dry run)", "server": f"{verb} (server dry run)"}.get(strategy, verb)


def report(kind: Kind, obj: Message | dict, verb: str, output: str | None, strategy: str = "none") -> str:
    """What a command prints for one object it acted on, newline-terminated.

    `obj` is the server's answer, or for a client dry run the object as built (a dict in kubectl's own
    field order, `creationTimestamp: null` and all, so `-o yaml` reads as kubectl's)."""
    name = obj["metadata"]["name"] if isinstance(obj, dict) else obj.metadata.name
    if output in ("json", "yaml"):
        data = obj if isinstance(obj, dict) else printers.object_dict(kind, obj)
        return printers.dump(data, output)
    if output == "name":
        return printers.object_name(kind, name) + "\n"
    return f"{printers.object_name(kind, name)} {operation(verb, strategy)}\n"


class Reporter:
    """Writes a command's reports to a stream; YAML documents after the first get kubectl's `---`."""

    def __init__(self, out: TextIO, output: str | None):
        self.out, self.output, self.count = out, output, 0

    def emit(self, kind: Kind, obj: Message | dict, verb: str, strategy: str = "none") -> None:
        text = report(kind, obj, verb, self.output, strategy)
        if self.output == "yaml" and self.count:
            text = "---\n" + text
        self.count += 1
        self.out.write(text)
        self.out.flush()


def add_flags(parser, *, output: bool = True) -> None:
    """--dry-run[=none|client|server] and -o json|yaml|name, as every mutating command has them."""
    parser.add_argument("--dry-run", nargs="?", const=BARE_DRY_RUN, default="none", metavar="none|client|server",
                        help="client: only print the object that would be sent; server: submit it without "
                             "persisting it (default: none)")
    if output:
        parser.add_argument("-o", "--output", choices=OUTPUTS,
                            help="print the resulting object (json, yaml) or its name, not the result line")
