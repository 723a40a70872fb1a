"""Shared by the replay stream builder, the reference decoder and every consumer (stdlib only).

Consumers run as scripts (``python benchmarks/esl/consumer_<client>.py ...``), so this module is
imported as ``benchcommon`` from the script's own directory, in the main venv and in the bench venv.

The correctness digest of one event is ``hash((frozenset(headers.items()), body_tag))``. ``hash``
of ``str`` is salted per process, so every process that computes digests runs with
``PYTHONHASHSEED=0`` (the orchestrator sets it); the digests of one process can then be compared
with those of another (same CPython version: both venvs use the same interpreter).
"""

from __future__ import annotations

import argparse
import array
import json
import os
import sys
import time
from collections.abc import Callable, Mapping

#: The event frame index (1-based) is written into ``Event-Sequence`` by the stream builder, so a
#: consumer in paced mode knows which scheduled send time an event had.
SEQUENCE = "Event-Sequence"
PASSWORD = "ClueCon"
#: Stop waiting when no event arrived for this long (a client that lost or mangled events).
IDLE_TIMEOUT = 15.0
#: Give up after this long in any case.
DEADLINE = 600.0


def digest(headers: Mapping[str, str], body: str | None) -> int:
    """Order-independent digest of one normalised event (headers by name, and the body)."""
    # hash(None) is address-based on CPython 3.11: tag the body instead of hashing None.
    return hash((frozenset(headers.items()), "\x00" if body is None else "\x01" + body))


def consumer_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fmt", choices=("plain", "json"), required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--mode", choices=("throughput", "paced"), required=True)
    parser.add_argument("--out", required=True, help="prefix of the result files")
    return parser.parse_args(argv)


class Recorder:
    """What a consumer's handler folds each event into: digests, count, handler times."""

    def __init__(self, events: int, paced: bool) -> None:
        self.expected = events
        self.count = 0
        self.digests: array.array[int] = array.array("q")
        # Paced mode: when the handler saw event i (index = Event-Sequence - 1); 0.0 = never.
        self.times: array.array[float] | None = (
            array.array("d", bytes(8 * events)) if paced else None)
        self.t_last = 0.0
        # CPU time of this process from here (made just before connecting) to the last event: far
        # less sensitive to other processes on a shared machine than wall time (a diagnostic).
        self.cpu_first = time.process_time()
        self.cpu_last = 0.0
        self.bad_sequence = 0

    def make_fold(self) -> Callable[[Mapping[str, str], str | None], bool]:
        """A fast closure ``fold(headers, body) -> True when the last event was seen``."""
        digests_append = self.digests.append
        times = self.times
        mono = time.monotonic
        cpu = time.process_time
        expected = self.expected
        rec = self

        if times is None:
            def fold(headers: Mapping[str, str], body: str | None) -> bool:
                digests_append(hash((frozenset(headers.items()),
                                     "\x00" if body is None else "\x01" + body)))
                rec.count += 1
                if rec.count >= expected:
                    rec.t_last = mono()
                    rec.cpu_last = cpu()
                    return True
                return False
            return fold

        def fold_paced(headers: Mapping[str, str], body: str | None) -> bool:
            now = mono()
            try:
                times[int(headers[SEQUENCE]) - 1] = now
            except (KeyError, ValueError, IndexError):
                rec.bad_sequence += 1
            digests_append(hash((frozenset(headers.items()),
                                 "\x00" if body is None else "\x01" + body)))
            rec.count += 1
            if rec.count >= expected:
                rec.t_last = mono()
                rec.cpu_last = cpu()
                return True
            return False
        return fold_paced

    def write(self, prefix: str, **extra: object) -> None:
        """Write the sorted digests (and times) next to ``prefix``; print the summary JSON."""
        digests = array.array("q", sorted(self.digests))
        with open(prefix + ".digests", "wb") as fh:
            digests.tofile(fh)
        result: dict[str, object] = {
            "count": self.count, "t_last": self.t_last, "digests": prefix + ".digests",
            "bad_sequence": self.bad_sequence, "pid": os.getpid(),
            "cpu_us_per_event": (1e6 * (self.cpu_last - self.cpu_first) / self.count
                                 if self.count and self.cpu_last else None),
        }
        if self.times is not None:
            with open(prefix + ".times", "wb") as fh:
                self.times.tofile(fh)
            result["times"] = prefix + ".times"
        result.update(extra)
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


def read_int64(path: str) -> array.array[int]:
    values = array.array("q")
    with open(path, "rb") as fh:
        values.frombytes(fh.read())
    return values


def read_float64(path: str) -> array.array[float]:
    values = array.array("d")
    with open(path, "rb") as fh:
        values.frombytes(fh.read())
    return values
