"""Make sure ``import dsl`` means the package, not this directory.

pytest's default (prepend) import mode puts ``tests/`` on ``sys.path`` for the test packages
beside this one (tests/esl, tests/sim …). This directory has the package's name and no
``__init__.py``, so the path finder takes it for a namespace package ``dsl`` — unless the
repository root, where the real ``dsl`` lives, is on ``sys.path`` too (the editable install
uses an import hook that the path finder does not consult first). Putting the root first
makes every later ``import dsl`` the real package. (A project-wide fix would be
``pythonpath = ["."]`` in the pytest configuration.)
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
_loaded = sys.modules.get("dsl")
if _loaded is not None and getattr(_loaded, "__file__", None) is None:
    del sys.modules["dsl"]  # a namespace package made from this directory: drop it
