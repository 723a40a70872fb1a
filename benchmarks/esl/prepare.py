"""Build the replay stream for one event format, and its golden digests from a reference decoder.

Usage: ``python prepare.py --corpus load-plain.recv.gz --fmt plain --events 30000 --out DIR``
(``--events`` may be repeated: the stream is built for the largest, goldens for each)
(run with ``PYTHONHASHSEED=0``; see :mod:`benchcommon`). Writes into DIR:

* ``<fmt>.stream`` — the event frames exactly as the switch framed them (``Content-Length``,
  ``Content-Type``, blank line, body), the corpus' 15,093 events repeated until at least
  ``--events`` (or its first ``--events`` when fewer), with two rewrites that keep every frame
  valid: ``Event-Sequence`` becomes the frame's 1-based index in the stream (so a consumer knows
  each event's scheduled send time), and in repeat *r* ≥ 1 every channel/job UUID (not the
  Core-UUID) is remapped, consistently, so each repeat is a fresh set of 500 calls rather than
  events about channels already destroyed;
* ``<fmt>.index`` — int64 end offset of each frame (the server chunks and paces on frame borders);
* ``<fmt>.golden-<n>`` — for each requested event count, the sorted int64 digests of the stream's
  first ``n`` events, decoded by the simple reference decoder
  below (not coreswitch's): plain = each header line split at the first ``": "`` and
  ``urllib.parse.unquote``'d, body = the inner ``Content-Length`` bytes; JSON = ``json.loads``,
  ``_body`` as the body, a JSON array folded to FreeSWITCH's plain form ``ARRAY::a|:b``. A header
  sent twice keeps its last value (what ``json.loads`` does with a repeated key);
* ``<fmt>.json`` — a manifest: events and bytes of the stream, corpus size, and ``counts``: each
  requested ``--events`` → the number of events actually replayed for it.
"""

from __future__ import annotations

import argparse
import array
import gzip
import json
import re
import sys
from pathlib import Path
from urllib.parse import unquote

from benchcommon import digest

_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def split_frames(data: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Outer framing, written independently of coreswitch.esl.frame."""
    frames = []
    pos, size = 0, len(data)
    while pos < size:
        while pos < size and data[pos] == 10:
            pos += 1
        if pos >= size:
            break
        end = data.index(b"\n\n", pos)
        headers = dict(line.split(": ", 1) for line in data[pos:end].decode().split("\n"))
        pos = end + 2
        length = int(headers.get("Content-Length", "0"))
        frames.append((headers, data[pos:pos + length]))
        pos += length
    return frames


def reference_plain(body: bytes) -> tuple[dict[str, str], str | None]:
    head, _, rest = body.partition(b"\n\n")
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").split("\n"):
        name, _, value = line.partition(": ")
        headers[name] = unquote(value)
    text = None
    if "Content-Length" in headers:
        text = rest[:int(headers["Content-Length"])].decode("utf-8", "replace")
    return headers, text


def reference_json(body: bytes) -> tuple[dict[str, str], str | None]:
    obj = json.loads(body)
    text = obj.pop("_body", None)
    headers: dict[str, str] = {}
    for name, value in obj.items():
        if isinstance(value, list):
            headers[name] = "ARRAY::" + "|:".join(value)
        elif isinstance(value, str):
            headers[name] = value
        else:
            headers[name] = json.dumps(value)
    return headers, text


def remap(uuid: bytes, repeat: int) -> bytes:
    head = (int(uuid[:8], 16) ^ (repeat * 0x9E3779B1)) & 0xFFFFFFFF
    return b"%08x" % head + uuid[8:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--fmt", choices=("plain", "json"), required=True)
    parser.add_argument("--events", type=int, action="append", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    fmt = args.fmt
    ctype = f"text/event-{fmt}"
    with gzip.open(args.corpus, "rb") as fh:
        raw = fh.read()
    corpus = [body for headers, body in split_frames(raw) if headers.get("Content-Type") == ctype]
    if not corpus:
        print(f"no {ctype} frames in {args.corpus}", file=sys.stderr)
        return 1
    if fmt == "plain":
        core = re.search(rb"\nCore-UUID: ([0-9a-f-]{36})\n", corpus[0])
        seq = re.compile(rb"\nEvent-Sequence: \d+\n")
        seq_fmt = b"\nEvent-Sequence: %d\n"
    else:
        core = re.search(rb'"Core-UUID":"([0-9a-f-]{36})"', corpus[0])
        seq = re.compile(rb'"Event-Sequence":"\d+"')
        seq_fmt = b'"Event-Sequence":"%d"'
    core_uuid = core.group(1) if core else b""
    n = len(corpus)
    counts = {target: target if target <= n else n * -(-target // n) for target in args.events}
    total = max(counts.values())
    decode = reference_plain if fmt == "plain" else reference_json
    out = Path(args.out)
    ends = array.array("q")
    goldens = array.array("q")
    offset = 0
    with open(out / f"{fmt}.stream", "wb") as stream:
        for i in range(total):
            repeat, j = divmod(i, n)
            body = corpus[j]
            if repeat:
                body = _UUID.sub(
                    lambda m, r=repeat: m.group(0) if m.group(0) == core_uuid
                    else remap(m.group(0), r), body)
            body, subs = seq.subn(seq_fmt % (i + 1), body, count=1)
            if subs != 1:
                print(f"event {j} has no Event-Sequence", file=sys.stderr)
                return 1
            frame = b"Content-Length: %d\nContent-Type: %s\n\n" % (len(body), ctype.encode())
            stream.write(frame)
            stream.write(body)
            offset += len(frame) + len(body)
            ends.append(offset)
            headers, text = decode(body)
            goldens.append(digest(headers, text))
    with open(out / f"{fmt}.index", "wb") as fh:
        ends.tofile(fh)
    for count in set(counts.values()):
        with open(out / f"{fmt}.golden-{count}", "wb") as fh:
            array.array("q", sorted(goldens[:count])).tofile(fh)
    manifest = {"fmt": fmt, "events": total, "bytes": offset, "corpus_events": n,
                "corpus_bytes": len(raw), "counts": {str(k): v for k, v in counts.items()}}
    (out / f"{fmt}.json").write_text(json.dumps(manifest))
    print(json.dumps(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
