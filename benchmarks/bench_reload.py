"""Reload: 100 flow publishes (two versions alternating, an invalid one mixed in) under call load.

Same two processes as ``bench calls`` (``calls/loadsim.py`` as the switch, ``coreswitch serve``).
serve starts with version A of the 95598 flow (``examples/flows/95598.flow`` with "【A】" in front
of its greeting, welcome, main-menu, fault-menu and district prompts); version B says "【B】"; the
invalid version has a ``goto`` to a state that does not exist. Both valid versions are published
once before the load, so their prompts are in the TTS cache (publish then measures the registry
path, not speech synthesis).

Then the switch places ``--rate`` calls/s (caller: main menu → 2 → 1 → hangs up, about six
prompts over ~6 s) while ``POST /api/flows/utility_95598/publish`` runs ``--publishes`` times,
``--interval`` s apart: A, B, A, B … with every ``--invalid-every``-th the invalid source.
Checked, from serve's call records (read from its database after it stopped) and the switch:

* **failed calls**: a call that did not reach its first prompt, ended under its caller's
  script, was not ended by its caller, or has no call record for the 95598 flow;
* **mixed-version calls**: a call whose transcript has prompts of the other version than the
  one its record (``flow_hash``) and its transcript's ``call`` entry name (both must agree), so
  also any call with prompts of both;
* the invalid version refused (HTTP 422) every time, each valid publish accepted (200);
* publish latency: the HTTP round trip of each publish, p99 over all of them.

Last line::

    reload: <n> publishes, <f> failed calls, <m> mixed-version calls, invalid refused <r>/<k>, publish p99 <ms> ms
"""  # noqa: E501 - the result line, verbatim

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from calls.harness import (
    REPO,
    BenchError,
    Rig,
    call_records,
    cpu_seconds,
    cpu_ticks,
    percentile,
    progress,
    start_profiler,
    steal_percent,
    stop_profiler,
)

FLOW = "utility_95598"
SOURCE = REPO / "examples" / "flows" / "95598.flow"
#: The prompts that get a version marker (zh text, in the prompt definitions).
MARKED = ("greet_morning", "greet_day", "greet_evening", "welcome", "main_menu",
          "main_menu_short", "fault_menu", "enter_area")
SCRIPT = ("press 2 on prompt 3 after 0.5; press 1 next prompt after 0.5; "
          "hangup next prompt after 0.5")
MARKS = ("【A】", "【B】")


def variant(source: str, mark: str) -> str:
    """The 95598 source with ``mark`` in front of the zh text of every MARKED prompt."""
    out = source
    for name in MARKED:
        head = f"prompt {name}:\n  zh \""
        if head not in out:
            raise BenchError(f"95598.flow has no zh prompt {name!r} any more")
        out = out.replace(head, head + mark, 1)
    return out


def invalid(source: str) -> str:
    broken = source.replace("state english:\n  language en\n  goto main_menu",
                            "state english:\n  language en\n  goto no_such_state", 1)
    if broken == source:
        raise BenchError("95598.flow's english state changed; update bench_reload.invalid")
    return broken


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _fmt(x: float) -> str:
    return "nan" if math.isnan(x) else f"{x:.1f}"


class Publisher(threading.Thread):
    """Publishes the sequence, ``interval`` s apart, timing each HTTP round trip."""

    def __init__(self, rig: Rig, sources: list[tuple[str, str]], interval: float,
                 delay: float) -> None:
        super().__init__(name="publisher", daemon=True)
        self.rig, self.sources, self.interval, self.delay = rig, sources, interval, delay
        self.results: list[tuple[str, int, float, str]] = []  # (kind, status, seconds, hash)
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            if self.stop.wait(self.delay):
                return
            due = time.monotonic()
            for kind, source in self.sources:
                t = time.perf_counter()
                status, body = self.rig.post(f"/api/flows/{FLOW}/publish", source.encode())
                elapsed = time.perf_counter() - t
                digest = str(body.get("content_hash")) if isinstance(body, dict) else ""
                self.results.append((kind, status, elapsed, digest))
                due += self.interval
                if self.stop.wait(max(0.0, due - time.monotonic())):
                    return
        except BaseException as exc:  # reported by the main thread
            self.error = exc


def check_calls(uuids: list[str], ok: set[str], records: dict[str, dict[str, Any]],
                hashes: dict[str, str]) -> tuple[list[str], list[str], dict[str, int]]:
    """(failed uuids, mixed-version uuids, calls per version)."""
    failed, mixed = [], []
    per_version = {"A": 0, "B": 0}
    for uuid in uuids:
        record = records.get(uuid)
        if uuid not in ok or record is None or record["flow"] != FLOW \
                or record["hangup_cause"] != "NORMAL_CLEARING":
            failed.append(uuid)
            if record is None:
                continue
        transcript = record["transcript"]
        start = next((e for e in transcript if e.get("event") == "call"), {})
        texts = [str(e.get("text") or "") for e in transcript if e.get("event") == "prompt"]
        seen = {m for m in MARKS for t in texts if t.startswith(m)}
        version = hashes.get(str(record["flow_hash"]))
        if (version is None or start.get("hash") != record["flow_hash"]
                or not seen <= {MARKS["AB".index(version)]}):
            mixed.append(uuid)
        else:
            per_version[version] += 1
    return failed, mixed, per_version


def run(args: argparse.Namespace, workdir: Path) -> int:
    base = SOURCE.read_text(encoding="utf-8")
    src = {"A": variant(base, MARKS[0]), "B": variant(base, MARKS[1]), "invalid": invalid(base)}
    flows = workdir / "flows"
    flows.mkdir()
    (flows / "95598.flow").write_text(src["A"], encoding="utf-8")
    shutil.copy(SOURCE.parent / "providers.toml", flows / "providers.toml")
    tts = Path(args.tts_cache) if args.tts_cache else workdir / "tts"
    rig = Rig(workdir, flow_dirs=[flows], tts_cache=tts, speed=args.speed,
              phase_timeout=args.phase_timeout)
    problems: list[str] = []
    sequence: list[tuple[str, str]] = []
    valid = 0
    for i in range(args.publishes):
        if args.invalid_every and (i + 1) % args.invalid_every == 0:
            sequence.append(("invalid", src["invalid"]))
        else:
            kind = "A" if valid % 2 == 0 else "B"
            valid += 1
            sequence.append((kind, src[kind]))
    with rig:
        progress(f"starting serve and the simulated switch (load {_load()})...")
        rig.start()
        hashes: dict[str, str] = {}
        for kind in ("B", "A"):  # B's prompts into the TTS cache; A live again
            t = time.perf_counter()
            status, body = rig.post(f"/api/flows/{FLOW}/publish", src[kind].encode(),
                                    timeout=300)
            if status != 200:
                raise BenchError(f"publishing version {kind} failed ({status}): {body}")
            hashes[str(body["content_hash"])] = kind
            progress(f"  warm-up publish {kind}: {body['status']} in "
                     f"{(time.perf_counter() - t) * 1e3:.0f} ms")
        warm = rig.phase({"cmd": "place", "calls": 10, "rate": 20, "script": SCRIPT})
        if warm["ok"] != 10:
            problems.append(f"warm-up calls: {warm['ok']}/10 ok {warm['causes']}")

        span = args.publishes * args.interval
        duration = args.lead + span + args.lead
        n = int(args.rate * duration)
        progress(f"load: {args.rate:g} calls/s for {duration:.0f} s; {args.publishes} publishes "
                 f"every {args.interval:g} s from {args.lead:g} s in (load {_load()})...")
        publisher = Publisher(rig, sequence, args.interval, args.lead)
        cpu0 = cpu_seconds(rig.serve_pid)
        ticks0 = cpu_ticks()
        profiler = start_profiler(args.profile, rig.serve_pid) if args.profile else None
        publisher.start()
        try:
            result = rig.phase({"cmd": "place", "calls": n, "rate": args.rate,
                                "script": SCRIPT, "uuids": True, "ani": 13900000000})
        finally:
            publisher.stop.set()
            publisher.join(timeout=120)
        serve_cpu = cpu_seconds(rig.serve_pid) - cpu0
        steal = steal_percent(ticks0, cpu_ticks())
        if profiler is not None:
            stop_profiler(profiler, args.profile)
        if publisher.error is not None:
            raise BenchError(f"publishing failed: {publisher.error!r}")
        progress(f"  {result['set_up']}/{n} calls set up, {result['ok']} ok {result['causes']}; "
                 f"setup p99 {_fmt(result['setup_p99_ms'])} ms, DTMF→media p99 "
                 f"{_fmt(result['dtmf_p99_ms'])} ms; peak {result['peak_channels']} up; "
                 f"serve CPU {serve_cpu:.1f} s; CPU stolen by the hypervisor {steal:.1f} %; "
                 f"load {_load()}")
        code = rig.stop_serve()
        if code != 0:
            problems.append(f"serve exited {code}: {rig.serve_tail(600)}")
        ok_uuids = set(result["ok_uuids"])
    records = call_records(rig.db_path)
    failed, mixed, per_version = check_calls(result["uuids"], ok_uuids, records, hashes)

    pubs = publisher.results
    invalid_done = [p for p in pubs if p[0] == "invalid"]
    refused = sum(1 for p in invalid_done if p[1] == 422)
    valid_done = [p for p in pubs if p[0] != "invalid"]
    accepted = sum(1 for p in valid_done if p[1] == 200 and hashes.get(p[3]) == p[0])
    lat = [p[2] * 1e3 for p in pubs]
    lat_valid = [p[2] * 1e3 for p in valid_done]
    p99 = percentile(lat, 99)
    if len(pubs) != args.publishes:
        problems.append(f"only {len(pubs)} of {args.publishes} publishes ran before the load "
                        "ended")
    if accepted != len(valid_done):
        problems.append(f"{len(valid_done) - accepted} valid publishes not accepted as their "
                        "version")
    if result["timed_out"]:
        problems.append("calls still running at the phase timeout")
    print(f"# 95598 A/B under {args.rate:g} calls/s offered ({n} calls: {per_version['A']} ran "
          f"A, {per_version['B']} ran B); {len(pubs)} publishes, {len(valid_done)} valid "
          f"({accepted} accepted), publish p50 {_fmt(percentile(lat, 50))} ms, p99 {_fmt(p99)} "
          f"ms, max {_fmt(max(lat, default=float('nan')))} ms (valid only p99 "
          f"{_fmt(percentile(lat_valid, 99))} ms); calls: setup p99 "
          f"{_fmt(result['setup_p99_ms'])} ms, DTMF→media p99 {_fmt(result['dtmf_p99_ms'])} ms; "
          f"{os.cpu_count()} CPUs, load {_load()}")
    for uuid in failed[:5]:
        print(f"#   failed call {uuid}: {records.get(uuid, {}).get('hangup_cause')}")
    for uuid in mixed[:5]:
        print(f"#   mixed-version call {uuid}")
    for problem in problems:
        print(f"# FAILED: {problem}")
    print(f"reload: {len(pubs)} publishes, {len(failed)} failed calls, {len(mixed)} mixed-version "
          f"calls, invalid refused {refused}/{len(invalid_done)}, publish p99 {_fmt(p99)} ms")
    targets = [
        f"zero failed calls: {'met' if not failed else 'not met'}",
        f"zero mixed-version calls: {'met' if not mixed else 'not met'}",
        f"invalid refused every time: {'met' if refused == len(invalid_done) else 'not met'}",
        f"publish p99 < 200 ms: {'met' if p99 < 200 else 'not met'}",
    ]
    print("# targets: " + "; ".join(targets))
    bad = problems or failed or mixed or refused != len(invalid_done)
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="coreswitch bench reload",
        description="Flow publishes (two versions alternating, an invalid one mixed in) while "
                    "the simulated switch places calls into coreswitch serve: no failed or "
                    "mixed-version calls, the invalid version refused, publish latency.")
    parser.add_argument("--publishes", type=int, default=100, help="publishes (100)")
    parser.add_argument("--interval", type=float, default=0.2,
                        help="seconds between publishes (0.2)")
    parser.add_argument("--invalid-every", type=int, default=10,
                        help="every N-th publish is the invalid version (10; 0: none)")
    parser.add_argument("--rate", type=float, default=100.0, help="calls/s offered (100)")
    parser.add_argument("--lead", type=float, default=3.0,
                        help="seconds of calls before the first and after the last publish (3)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="switch seconds per real second (1: real time)")
    parser.add_argument("--phase-timeout", type=float, default=180.0)
    parser.add_argument("--tts-cache", default="",
                        help="TTS cache directory (default: fresh; both versions are rendered "
                             "before the load either way)")
    parser.add_argument("--profile", default="", metavar="FILE",
                        help="sample serve with py-spy during the load into FILE (raw collapsed "
                             "stacks; speedscope if FILE ends in .json)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 10 publishes (1 invalid) 0.2 s apart, 20 calls/s")
    args = parser.parse_args(argv)
    if args.quick:
        args.publishes, args.rate, args.lead = 10, 20, 1.0
    if args.publishes < 1 or args.interval < 0 or args.rate <= 0 or args.invalid_every < 0:
        parser.error("--publishes and --rate must be positive, --interval and "
                     "--invalid-every >= 0")
    with tempfile.TemporaryDirectory(prefix="coreswitch-bench-reload-") as tmp:
        try:
            return run(args, Path(tmp))
        except BenchError as exc:
            print(f"reload: {exc}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
