"""The commands and configuration files in the user docs work as written.

* ``coreswitch check|call|test`` commands in docs/quickstart.md's ``sh`` blocks run in-process
  from the repository root (those whose files are in the repository) and exit 0;
* every other ``coreswitch …`` / ``./scripts/serve …`` command there parses (options exist);
* the TOML shown in quickstart.md, operations.md and freeswitch.md loads with ``load_config``;
* operations.md's configuration reference lists every key of :class:`coreswitch.config.Config`.

No network, no servers, no sleeps: the calls run on the virtual clock.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import msgspec
import pytest

from coreswitch.cli import build_parser, main
from coreswitch.config import Config, load_config

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
QUICKSTART = DOCS / "quickstart.md"
RUNNABLE = ("check", "call", "test")


def _blocks(path: Path, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", path.read_text(encoding="utf-8"), re.M | re.S)


def _commands() -> list[list[str]]:
    """Each ``coreswitch``/``./scripts/serve`` command of the quickstart's sh blocks, as argv
    after the program name (continuation lines joined, comments dropped)."""
    out = []
    for block in _blocks(QUICKSTART, "sh"):
        for line in block.replace("\\\n", " ").splitlines():
            argv = shlex.split(line, comments=True)
            if argv[:1] == ["coreswitch"]:
                out.append(argv[1:])
            elif argv[:1] == ["./scripts/serve"]:
                out.append(["serve", *argv[1:]])
    return out


def _runnable(argv: list[str]) -> bool:
    if argv[0] not in RUNNABLE:
        return False
    files = [a for a in argv[1:] if not a.startswith("-") and "/" in a]
    return bool(files) and all((ROOT / f).exists() for f in files)


COMMANDS = _commands()
RUNS = [argv for argv in COMMANDS if _runnable(argv)]


def test_the_quickstart_runs_each_kind_of_command() -> None:
    assert {argv[0] for argv in RUNS} == set(RUNNABLE)


@pytest.mark.parametrize("argv", RUNS, ids=[" ".join(a) for a in RUNS])
def test_command_runs(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, out + err
    if argv[0] == "check":
        assert " 0 errors" in out
    elif argv[0] == "test":
        assert re.search(r"^\d+ passed, 0 failed$", out, re.M)
    else:
        events = [json.loads(line) for line in out.splitlines()]
        assert events[0]["event"] == "call"
        assert events[-1]["event"] == "hangup"


OTHERS = [argv for argv in COMMANDS if not _runnable(argv)]


@pytest.mark.parametrize("argv", OTHERS, ids=[" ".join(a) for a in OTHERS])
def test_command_parses(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)  # SystemExit(2) on an unknown option
    assert args.handler is not None


def _toml_snippets() -> list[tuple[str, str]]:
    found = []
    for doc in ("quickstart.md", "operations.md", "freeswitch.md"):
        path = DOCS / doc
        found += [(doc, text) for text in _blocks(path, "toml")]
        for block in _blocks(path, "sh"):  # cat > FILE <<'EOF' … EOF
            found += [(doc, m) for m in re.findall(r"<<'EOF'\n(.*?)^EOF", block, re.M | re.S)]
    return found


SNIPPETS = _toml_snippets()


@pytest.mark.parametrize("text", [t for _, t in SNIPPETS],
                         ids=[f"{d}-{i}" for i, (d, _) in enumerate(SNIPPETS)])
def test_documented_configuration_loads(text: str, tmp_path: Path) -> None:
    path = tmp_path / "coreswitch.toml"
    path.write_text(text, encoding="utf-8")
    load_config(path)


def test_operations_lists_every_configuration_key() -> None:
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    missing = []
    for section in msgspec.structs.fields(Config):
        start = text.index(f"### `[{section.name}]`")
        end = text.find("\n### ", start + 1)
        table = text[start:end if end > 0 else None]
        for key in msgspec.structs.fields(section.type):
            if not re.search(rf"^\| `{key.name}` \|", table, re.M):
                missing.append(f"{section.name}.{key.name}")
    assert not missing, f"not in docs/operations.md's configuration reference: {missing}"
