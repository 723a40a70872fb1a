"""Shared helpers for the flow-language tests."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
from pathlib import Path

from coreswitch.cli import check

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
EXAMPLES = ROOT / "examples" / "flows"
UPDATE = os.environ.get("CORESWITCH_UPDATE_GOLDEN") == "1"


def run_check(*argv: str) -> tuple[int, str]:
    """Run ``coreswitch check ARGV`` in-process from the repository root; (exit code, stdout)."""
    parser = argparse.ArgumentParser(prog="coreswitch")
    check.register(parser.add_subparsers())
    args = parser.parse_args(["check", *argv])
    out = io.StringIO()
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out):
            code = args.handler(args)
    finally:
        os.chdir(cwd)
    return code, out.getvalue()


def golden(path: Path, actual: str) -> str:
    """The expected text beside ``path`` (rewritten when CORESWITCH_UPDATE_GOLDEN=1)."""
    expected = path.with_name(path.name.removesuffix(".flow").removesuffix(".test") + ".expected")
    if UPDATE or not expected.exists():
        if not UPDATE:
            raise AssertionError(f"{expected} is missing; run with CORESWITCH_UPDATE_GOLDEN=1")
        expected.write_text(actual, encoding="utf-8")
    return expected.read_text(encoding="utf-8")
