"""``coreswitch check PATH...``: parse and check flows, print compiler-style diagnostics.

Files or directories (searched recursively for ``*.flow``). Plugin functions a deployment
provides are read from a ``providers.toml`` beside the flows (or ``--providers FILE``); with
neither, calls are checked against the flows' own ``function`` declarations only.
``*.test.flow`` files are checked against the flow they name with ``testing "X.flow"``.

``coreswitch check --graph FLOW [--format dot|mermaid]`` prints the state graph instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from pathlib import Path

import dsl
from dsl.diagnostics import Diagnostic, error, render, sort_key
from dsl.environment import Environment, environment_from_mapping
from dsl.graph import to_dot, to_mermaid
from dsl.span import Span

PROVIDERS_FILE = "providers.toml"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "check", help="parse and check flows; exit 1 on errors",
        description="Parse and statically check .flow files (and *.test.flow files). "
                    "Prints file:line:col: error[CODE]: message with the source line and a caret.")
    p.add_argument("paths", nargs="*", metavar="PATH", help=".flow files or directories")
    p.add_argument("--providers", metavar="FILE",
                   help=f"functions the installed plugins provide (default: {PROVIDERS_FILE} "
                        "beside the flow, if present)")
    p.add_argument("--graph", metavar="FLOW", help="print the state graph of FLOW and exit")
    p.add_argument("--format", choices=("dot", "mermaid"), default="dot",
                   help="graph format (default dot)")
    p.add_argument("--ir", metavar="FLOW", help="print the compiled IR of FLOW as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="errors only, no warnings")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except BrokenPipeError:  # `coreswitch check … | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _run(args: argparse.Namespace) -> int:
    out = sys.stdout
    if args.graph or args.ir:
        target = Path(args.graph or args.ir)
        ir, diags, source = _compile(target, args.providers)
        if ir is None:
            _print(target, source, diags, quiet=True)
            return 1
        if args.ir:
            out.write(json.dumps(ir, ensure_ascii=False, indent=2) + "\n")
        else:
            out.write(to_dot(ir) if args.format == "dot" else to_mermaid(ir))
        return 0
    if not args.paths:
        print("coreswitch check: give at least one PATH (or --graph FLOW)", file=sys.stderr)
        return 2
    files: list[Path] = []
    for raw in args.paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted(p.rglob("*.flow")))
        elif p.exists():
            files.append(p)
        else:
            print(f"{raw}: no such file or directory", file=sys.stderr)
            return 2
    n_err = n_warn = 0
    for f in files:
        diags, source = check_file(f, args.providers)
        shown = [d for d in diags if d.is_error or not args.quiet]
        _print(f, source, shown, quiet=args.quiet)
        n_err += sum(1 for d in diags if d.is_error)
        n_warn += sum(1 for d in diags if not d.is_error)
    noun = "file" if len(files) == 1 else "files"
    print(f"{len(files)} {noun} checked: {n_err} error{'s' * (n_err != 1)}, "
          f"{n_warn} warning{'s' * (n_warn != 1)}", file=out)
    return 1 if n_err else 0


def _env(flow_path: Path, providers: str | None) -> Environment:
    cand = Path(providers) if providers else flow_path.parent / PROVIDERS_FILE
    if not cand.exists():
        return Environment()
    with cand.open("rb") as fh:
        return environment_from_mapping(tomllib.load(fh))


def _read(path: Path) -> str:
    # utf-8-sig: drop the byte-order mark Windows editors write; undecodable bytes become
    # U+FFFD and are then reported as unexpected characters, with their position
    return path.read_bytes().decode("utf-8-sig", errors="replace")


def check_file(path: Path, providers: str | None = None) -> tuple[list[Diagnostic], str]:
    """Diagnostics for one file (flow or test file) and its source text."""
    source = _read(path)
    env = _env(path, providers)
    if path.name.endswith(".test.flow"):
        parsed = dsl.parse(source, env, test_file=True)
        if parsed.flow is None or parsed.errors or parsed.flow.testing is None:
            return list(parsed.diagnostics), source
        target_path = path.parent / parsed.flow.testing
        if not target_path.exists():
            line = next((i for i, t in enumerate(source.splitlines(), 1)
                         if t.lstrip().startswith("testing")), 1)
            return [*parsed.diagnostics, error(
                "E602", f"the flow under test '{parsed.flow.testing}' does not exist",
                Span.point(line, 1, len("testing")),
                "name a .flow file in the same directory")], source
        target = dsl.analyse(_read(target_path), env).flow
        a = dsl.analyse(source, env, test_file=True, target=target)
        return list(a.diagnostics), source
    return list(dsl.analyse(source, env).diagnostics), source


def _compile(path: Path, providers: str | None
             ) -> tuple[dict[str, object] | None, list[Diagnostic], str]:
    if not path.exists():
        return None, [error("E602", f"no such flow: {path}", Span.point(1, 1))], ""
    source = _read(path)
    ir, diags = dsl.compile_source(source, _env(path, providers))
    return ir, list(diags), source


#: Public names for the other commands (``call``, ``test``) that read flows the same way.
environment_for = _env
read_source = _read


def _print(path: Path, source: str, diags: list[Diagnostic], *, quiet: bool) -> None:
    for d in sorted(diags, key=sort_key):
        if quiet and not d.is_error:
            continue
        print(render(d, str(path), source) + "\n")
