"""``coreswitch bench NAME [ARGS...]``: run a benchmark from the repository checkout.

Benchmarks live in ``benchmarks/bench_<NAME>.py`` next to the ``coreswitch`` package (they are
not installed with it: they need the recorded corpora and the peer clients). Each module defines
``main(argv: list[str]) -> int``; ``coreswitch bench`` with no name lists them.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import cast

import coreswitch


def benchmarks_dir() -> Path:
    """``benchmarks/`` of the checkout this ``coreswitch`` package was imported from."""
    return Path(coreswitch.__file__).resolve().parent.parent / "benchmarks"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="run a benchmark (coreswitch bench NAME [ARGS...]; no NAME lists them)",
        description="Run benchmarks/bench_NAME.py from the repository checkout; "
                    "ARGS go to the benchmark (try: coreswitch bench esl --help).",
    )
    parser.add_argument("name", nargs="?", help="benchmark name (e.g. esl)")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the benchmark")
    parser.set_defaults(handler=run)


def available(directory: Path) -> dict[str, str]:
    """Benchmark name → first line of its module docstring."""
    found: dict[str, str] = {}
    for path in sorted(directory.glob("bench_*.py")):
        found[path.stem.removeprefix("bench_")] = _summary(path)
    return found


def _summary(path: Path) -> str:
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return "(unreadable)"
    return doc.strip().splitlines()[0] if doc and doc.strip() else ""


def run(args: argparse.Namespace) -> int:
    directory = benchmarks_dir()
    if not directory.is_dir():
        print(f"coreswitch bench: no benchmarks directory at {directory}; benchmarks run from a "
              "source checkout (git clone the repository and `pip install -e .` it)",
              file=sys.stderr)
        return 2
    found = available(directory)
    name: str | None = args.name
    if not name:
        if not found:
            print(f"no benchmarks (bench_*.py) in {directory}")
            return 0
        print("available benchmarks (coreswitch bench NAME [ARGS...]):")
        width = max(len(n) for n in found)
        for bench, summary in found.items():
            print(f"  {bench:<{width}}  {summary}")
        return 0
    if name not in found:
        known = ", ".join(found) or "none"
        print(f"coreswitch bench: unknown benchmark {name!r} (available: {known})",
              file=sys.stderr)
        return 2
    main = load_main(directory / f"bench_{name}.py")
    if main is None:
        return 2
    result = main(list(args.args))
    return int(result) if result is not None else 0


def load_main(path: Path) -> Callable[[list[str]], int | None] | None:
    """Import a benchmark module from its file and return its ``main``; None (reported) if none."""
    spec = importlib.util.spec_from_file_location(f"coreswitch_bench_{path.stem}", path)
    if spec is None or spec.loader is None:
        print(f"coreswitch bench: cannot load {path}", file=sys.stderr)
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    try:
        spec.loader.exec_module(module)
    except Exception:
        sys.modules.pop(spec.name, None)
        raise
    main = getattr(module, "main", None)
    if not callable(main):
        print(f"coreswitch bench: {path} defines no main(argv)", file=sys.stderr)
        return None
    return cast(Callable[[list[str]], int | None], main)
