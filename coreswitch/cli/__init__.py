"""The ``coreswitch`` command line.

Each sub-command lives in its own module exposing ``register(subparsers)``, which adds an
``argparse`` parser whose ``handler`` default is a function ``(args) -> int`` (the exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from coreswitch import __version__

#: Sub-command modules, in the order ``--help`` lists them.
#: Add a module here when its command is built.
_COMMANDS: tuple[str, ...] = ("check", "test", "call", "serve", "sim", "flows", "agents",
                               "bench")

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coreswitch",
        description="A low-code call-centre platform for FreeSWITCH.",
    )
    parser.add_argument("--version", action="version", version=f"coreswitch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(f"coreswitch.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
