"""The compiled form of a flow: plain JSON-serialisable dicts, versioned and content-hashed.

Shape (``IR_VERSION`` 1)::

    {
      "ir_version": 1, "name": …, "title": …, "languages": ["zh", "en"], "dnis": [...],
      "version": "…", "start": "welcome",
      "guards": {"max_duration_ms": 1800000|null, "max_duration_pc": PC|null,
                 "max_visits": 5|null, "max_visits_pc": PC|null,
                 "guard_state": "$guards"},   # the pcs index that pseudo-state's code
      "prompts":   {NAME: {LANG|"*": {"text": EXPR|null, "file": PATH|null}}},
      "variables": {NAME: {"scope": var|global|setting|bound, "type": "text",
                           "default": EXPR|null, "sensitive": bool}},
      "functions": {NAME: {"params": [[N, TYPE]], "returns": TYPE, "timeout_ms": MS|null}},
      "calendars": {NAME: {"timezone": …,
                           "weekly": [{"days": [0..6], "ranges": [[HH:MM, HH:MM]]}],
                           "dates": [{"kind": holiday|special, "start", "end", "ranges",
                                      "label"}]}},
      "states":    {NAME: {"max_visits": N|null, "max_visits_pc": PC|null, "code": [OP, …]}},
      "subflows":  {NAME: {"inputs": [[N, T]], "outputs": [[N, T]], "start": S,
                           "variables": {…}, "states": {…}}},
      "graph":     {"nodes": [NAME…], "edges": [[FROM, TO, LABEL]…]},
      "source_map": {STATE: [LINE per op]},
      "content_hash": "sha256:…"
    }

Every op is a dict with an ``"op"`` key; control moves to ``pc + 1`` unless the op says
otherwise. Jumps (``"pc"`` fields) are indices into the same state's ``code``. Expressions are
in the IR form of :mod:`dsl.expr`. See docs/flow-language.md, "Compiled form", for each op.
The hash covers everything except ``source_map`` and ``content_hash`` itself, so editing
comments or layout does not change it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

IR_VERSION = 1

IR = dict[str, Any]


def canonical_json(data: object) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_hash(ir: IR) -> str:
    body = {k: v for k, v in ir.items() if k not in ("content_hash", "source_map")}
    return "sha256:" + hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def dumps(ir: IR) -> str:
    return canonical_json(ir)


def loads(text: str) -> IR:
    ir: IR = json.loads(text)
    if ir.get("ir_version") != IR_VERSION:
        raise ValueError(f"unsupported IR version {ir.get('ir_version')!r}")
    if ir.get("content_hash") != content_hash(ir):
        raise ValueError("IR content hash does not match its content")
    return ir
