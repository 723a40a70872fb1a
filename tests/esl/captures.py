"""Where the recorded FreeSWITCH captures live, and small readers for them (test helper).

The captures are in ``<repo>/../shared/esl`` (``$CORESWITCH_SHARED/esl`` when that variable is
set). They are required: a missing directory fails the tests instead of skipping them.
"""

from __future__ import annotations

import gzip
import json
import os
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    env = os.environ.get("CORESWITCH_SHARED")
    return Path(env) if env else REPO.parent / "shared"


ESL_DIR = shared_dir() / "esl"

#: The per-connection captures (``*.recv``), in a fixed order.
RECV_FILES = (
    "inbound-badauth.recv",
    "inbound-json.recv",
    "inbound-plain.recv",
    "outbound-control.recv",
    "outbound-session.recv",
)
LOAD_FILES = ("load-plain.recv.gz", "load-json.recv.gz")
LOAD_EVENTS = 15_093


@cache
def read_capture(name: str) -> bytes:
    data = (ESL_DIR / name).read_bytes()
    return gzip.decompress(data) if name.endswith(".gz") else data


def read_transcript(name: str) -> list[tuple[str, bytes]]:
    """``[(dir, bytes)]`` of ``<name>.transcript.jsonl``: ``dir`` is ``send`` or ``recv``."""
    records = []
    with (ESL_DIR / f"{name}.transcript.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            records.append((obj["dir"], obj["data"].encode("latin-1")))
    return records
