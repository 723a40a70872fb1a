"""The state graph of a compiled flow as Graphviz DOT or Mermaid text (for docs and coverage)."""

from __future__ import annotations

from dsl.ir import IR


def _ids(ir: IR) -> dict[str, str]:
    return {name: f"s{i}" for i, name in enumerate(ir["graph"]["nodes"])}


def _edges(ir: IR) -> list[tuple[str, str, str]]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for a, b, label in ir["graph"]["edges"]:
        k = (a, b, label)
        if k not in seen:
            seen.add(k)
            out.append(k)
    return out


def _q(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(ir: IR) -> str:
    ids = _ids(ir)
    start = ir["graph"]["start"]
    lines = [f'digraph "{_q(ir["name"])}" {{', "  rankdir=LR;",
             '  node [shape=box, style=rounded, fontname="sans-serif"];']
    for name, nid in ids.items():
        extra = ", penwidth=2" if name == start else ""
        lines.append(f'  {nid} [label="{_q(name)}"{extra}];')
    for a, b, label in _edges(ir):
        if a in ids and b in ids:
            lines.append(f'  {ids[a]} -> {ids[b]} [label="{_q(label)}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(ir: IR) -> str:
    ids = _ids(ir)
    lines = ["flowchart LR"]
    for name, nid in ids.items():
        shape = f'(["{name}"])' if name == ir["graph"]["start"] else f'["{name}"]'
        lines.append(f"  {nid}{shape.replace(chr(34) * 2, '')}")
    for a, b, label in _edges(ir):
        if a in ids and b in ids:
            safe = label.replace("|", "/").replace('"', "'")
            lines.append(f'  {ids[a]} -->|"{safe}"| {ids[b]}')
    return "\n".join(lines) + "\n"
