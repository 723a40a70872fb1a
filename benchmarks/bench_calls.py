"""Calls: setups/s, DTMF→media p99, concurrent calls and memory of coreswitch serve on 95598.

Two processes on loopback: the simulated switch (``calls/loadsim.py``) and ``coreswitch serve``
(``[switch] kind = "freeswitch"`` pointed at it). The switch places calls into serve's outbound
socket (``socket <addr> async full``), serve runs ``examples/flows/95598.flow`` on each. Phases:

1. **warm-up** — a few calls (first-call costs out of the figures);
2. **hold** — ``--hold`` calls placed at ``--hold-rate``; every caller stays in the main-menu
   prompt (the call's 3rd media file lasts an hour). At the plateau: serve's RSS growth over
   the pre-hold baseline ÷ the calls serve reports live (``GET /api/calls/live``) = memory per
   active call; the calls are held ``--hold-time`` seconds, checked still live, then hung up;
3. **rate** — ``--rate`` calls/s for ``--duration`` s, each caller: main menu → 2 (fault menu) →
   1 (district code) → hangs up. Sustained setups/s = calls set up ÷ (last setup − first call
   placed); DTMF → next media command latency measured on the switch side (see loadsim.py).

Peak concurrent = the most calls serve was running at once: the held calls serve reported live,
or the most rate-phase calls that had their first prompt and were still up (a call still waiting
for serve to accept its socket does not count).

Every call must end as its caller ended it, with serve's call record written (read from serve's
database after it stopped). The last line::

    calls: <setups/s> setups/s sustained, p99 <ms> ms, peak <n> concurrent, <KiB> KiB/call
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from calls import capture
from calls.harness import (
    REPO,
    BenchError,
    Rig,
    call_records,
    cpu_seconds,
    cpu_ticks,
    listen_overflows,
    progress,
    rss_kib,
    settle,
    start_profiler,
    steal_percent,
    stop_profiler,
)
from calls.loadsim import percentile

#: main menu (prompt 3) → 2: fault menu → 1: district code prompt → the caller hangs up.
RATE_SCRIPT = ("press 2 on prompt 3 after 0.5; press 1 next prompt after 0.5; "
               "hangup next prompt after 0.5")
HOLD_PROMPT = 3  # the main-menu prompt: greeting, welcome, main menu


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _fmt(x: float, digits: int = 1) -> str:
    return "nan" if math.isnan(x) else f"{x:.{digits}f}"


def _live(rig: Rig) -> int:
    return len(rig.get("/api/calls/live", timeout=30.0)["calls"])


def _wire_timing(cap: capture.Capture | None, port: int, expected: int,
                 keep: Path | None = None) -> dict[str, float] | None:
    """Stop the capture and time DTMF → media on the wire (see calls/capture.py); None, with
    the reason printed, when there is no capture or it missed keys (then the switch-side
    figure stands)."""
    if cap is None:
        return None
    said = cap.stop()
    try:
        return _read_wire(cap.path, port, expected, capture.dropped(said))
    finally:
        if keep is not None and cap.path.exists():
            shutil.move(cap.path, keep)
            progress(f"  capture kept in {keep} (serve's outbound port {port})")
        cap.path.unlink(missing_ok=True)


def _read_wire(path: Path, port: int, expected: int, lost: int) -> dict[str, float] | None:
    try:
        timing = capture.read_timing(path, port)
    except (OSError, capture.CaptureError) as exc:
        progress(f"  no timing on the wire: {exc}")
        return None
    lat = [x * 1e3 for x in timing.latencies]
    if lost or len(lat) < expected:
        progress(f"  no timing on the wire: the capture has {len(lat)} of {expected} keys "
                 f"({lost} packets dropped by the kernel)")
        return None
    progress(f"  DTMF→media on the wire (tcpdump on lo): {len(lat)} keys on "
             f"{timing.connections} connections; p50 {_fmt(percentile(lat, 50))} ms, "
             f"p99 {_fmt(percentile(lat, 99))} ms, max {_fmt(max(lat))} ms; "
             f"{path.stat().st_size / 2**20:.0f} MiB captured, 0 dropped")
    setup = [x * 1e3 for x in timing.setups]
    serve = [x * 1e3 for x in timing.serve_setups]
    progress(f"  setup on the wire (the switch's SYN → serve's first media command): "
             f"{len(setup)} calls; p50 {_fmt(percentile(setup, 50))} ms, p99 "
             f"{_fmt(percentile(setup, 99))} ms; serve's own part p50 "
             f"{_fmt(percentile(serve, 50))} ms, p99 {_fmt(percentile(serve, 99))} ms "
             f"(the rest is the switch replying)")
    return {"p50": percentile(lat, 50), "p99": percentile(lat, 99), "max": max(lat),
            "setup_p99": percentile(setup, 99), "serve_setup_p99": percentile(serve, 99)}


def run(args: argparse.Namespace, workdir: Path) -> int:
    tts = Path(args.tts_cache) if args.tts_cache else workdir / "tts"
    rig = Rig(workdir, flow_dirs=[REPO / "examples" / "flows"], tts_cache=tts,
              speed=args.speed, file_seconds=args.file_seconds,
              phase_timeout=args.phase_timeout)
    problems: list[str] = []
    placed: list[str] = []
    with rig:
        progress(f"starting serve and the simulated switch (load {_load()})...")
        t = time.monotonic()
        rig.start()
        progress(f"  ready in {time.monotonic() - t:.1f} s")

        warm = rig.phase({"cmd": "place", "calls": args.warmup, "rate": 20,
                          "script": RATE_SCRIPT, "uuids": True, "ani": 13700000000})
        placed += warm["uuids"]
        if warm["ok"] != args.warmup:
            problems.append(f"warm-up: {warm['ok']}/{args.warmup} calls ok {warm['causes']}")
        settle([rig.serve_pid, rig.sim_pid])  # the last records and sockets, then the baseline

        sim_cpu = warm["sim_cpu_s"]
        peak = 0
        kib_per_call = float("nan")
        if args.hold:
            base_rss = rss_kib(rig.serve_pid)
            cpu0 = cpu_seconds(rig.serve_pid)
            progress(f"hold: placing {args.hold} calls at {args.hold_rate:g}/s "
                     f"(load {_load()})...")
            hold = rig.phase({"cmd": "place", "calls": args.hold, "rate": args.hold_rate,
                              "hold_prompt": HOLD_PROMPT, "uuids": True,
                              "ani": 13800000000})
            placed += hold["uuids"]
            time.sleep(2.0)  # the plateau: nothing new arrives
            live = _live(rig)
            plateau_rss = rss_kib(rig.serve_pid)
            kib_per_call = (plateau_rss - base_rss) / live if live else float("nan")
            progress(f"  held {hold['held']} (serve live {live}); setup p99 "
                     f"{_fmt(hold['setup_p99_ms'])} ms; serve RSS {base_rss / 1024:.1f} → "
                     f"{plateau_rss / 1024:.1f} MiB; {hold['causes']}")
            time.sleep(args.hold_time)
            still = _live(rig)
            rss_end = rss_kib(rig.serve_pid)
            cpu1 = cpu_seconds(rig.serve_pid)
            progress(f"  after {args.hold_time:g} s: serve live {still}, RSS "
                     f"{rss_end / 1024:.1f} MiB; serve CPU {cpu1 - cpu0:.1f} s for the "
                     f"ramp + hold (load {_load()})")
            peak = min(live, still)
            if hold["held"] != args.hold or still != args.hold:
                problems.append(f"hold: {hold['held']} held, {still} still live after "
                                f"{args.hold_time:g} s, of {args.hold} ({hold['causes']})")
            hung = rig.phase({"cmd": "hangup"})
            sim_cpu = hung["sim_cpu_s"]
            if hung["left"]:
                problems.append(f"hold: {hung['left']} calls not ended after the hangup")
            waited = settle([rig.serve_pid, rig.sim_pid])
            progress(f"  hung up; serve and the switch quiet after {waited:.1f} s")

        progress(f"rate: {args.rate:g} calls/s for {args.duration:g} s "
                 f"(load {_load()})...")
        n = int(args.rate * args.duration)
        profiler = start_profiler(args.profile, rig.serve_pid) if args.profile else None
        sim_profiler = (start_profiler(args.profile_switch, rig.sim_pid)
                        if args.profile_switch else None)
        cap = None
        if not args.no_capture:
            try:
                cap = capture.start(rig.outbound_port, workdir / "rate.pcap")
            except capture.CaptureError as exc:
                progress(f"  no timing on the wire: {exc}")
        cpu0 = cpu_seconds(rig.serve_pid)
        overflows0 = listen_overflows()
        ticks0 = cpu_ticks()
        wall0 = time.monotonic()
        rated = rig.phase({"cmd": "place", "calls": n, "rate": args.rate,
                           "script": RATE_SCRIPT, "uuids": True, "ani": 13900000000})
        serve_cpu = cpu_seconds(rig.serve_pid) - cpu0
        wall = time.monotonic() - wall0
        overflows = listen_overflows() - overflows0
        steal = steal_percent(ticks0, cpu_ticks())
        if profiler is not None:
            stop_profiler(profiler, args.profile)
        if sim_profiler is not None:
            stop_profiler(sim_profiler, args.profile_switch)
        placed += rated["uuids"]
        setups = rated["set_up"] / rated["setup_span_s"] if rated["setup_span_s"] > 0 else 0.0
        peak = max(peak, int(rated["peak_in_flow"]))
        progress(f"  {rated['set_up']}/{n} set up in {rated['setup_span_s']:.2f} s "
                 f"(placing took {rated['placing_s']:.2f} s, late p99 "
                 f"{_fmt(rated['placing_late_p99_ms'])} ms); setup p50/p99 "
                 f"{_fmt(rated['setup_p50_ms'])}/{_fmt(rated['setup_p99_ms'])} ms; "
                 f"{rated['ok']} ok {rated['causes']}; peak {rated['peak_in_flow']} calls in the "
                 f"flow ({rated['peak_channels']} channels up); "
                 f"sim loop lag p99 {_fmt(rated['sim_lag_p99_ms'])} ms")
        sim_cpu = rated["sim_cpu_s"] - sim_cpu
        progress(f"  CPU: serve {serve_cpu:.1f} s ({serve_cpu / max(1, n) * 1e3:.2f} ms/call), "
                 f"switch {sim_cpu:.1f} s ({sim_cpu / max(1, n) * 1e3:.2f} ms/call) over "
                 f"{wall:.1f} s; {rated['events'] / max(1, n):.0f} switch events per call; "
                 f"listen-queue overflows (kernel, whole machine) {overflows}; "
                 f"CPU stolen by the hypervisor {steal:.1f} %; load {_load()}")
        wire = _wire_timing(cap, rig.outbound_port, rated["dtmf_samples"],
                            Path(args.keep_capture) if args.keep_capture else None)
        if rated["ok"] != n:
            problems.append(f"rate: {n - rated['ok']} of {n} calls failed {rated['causes']}")
        if rated["timed_out"]:
            problems.append("rate: calls still running at the phase timeout")

        code = rig.stop_serve()
        if code != 0:
            problems.append(f"serve exited {code}: {rig.serve_tail(600)}")
    records = call_records(rig.db_path)
    missing = [u for u in placed if u not in records]
    wrong = [u for u in placed if u in records and records[u]["flow"] != "utility_95598"]
    if missing:
        problems.append(f"{len(missing)} of {len(placed)} calls have no call record")
    if wrong:
        problems.append(f"{len(wrong)} call records name another flow")

    if wire is not None:
        p99, where = wire["p99"], "on the wire"
    else:
        p99, where = rated["dtmf_p99_ms"], "switch side"
    wire_text = (f"on the wire p50 {_fmt(wire['p50'])} ms, p99 {_fmt(wire['p99'])} ms, max "
                 f"{_fmt(wire['max'])} ms; " if wire is not None else "")
    setup_text = (f" (on the wire p99 {_fmt(wire['setup_p99'])} ms, serve's part p99 "
                  f"{_fmt(wire['serve_setup_p99'])} ms)" if wire is not None else "")
    print(f"# 95598 flow, rate phase: {n} calls at {args.rate:g}/s, {rated['dtmf_samples']} "
          f"DTMF samples, DTMF→media {wire_text}switch side p50 "
          f"{_fmt(rated['dtmf_p50_ms'])} ms, p99 {_fmt(rated['dtmf_p99_ms'])} ms, max "
          f"{_fmt(rated['dtmf_max_ms'])} ms; setup p50 {_fmt(rated['setup_p50_ms'])} ms, p99 "
          f"{_fmt(rated['setup_p99_ms'])} ms{setup_text}; hold phase {args.hold} calls; speed "
          f"{args.speed:g}, media files {args.file_seconds:g} s; {os.cpu_count()} CPUs, "
          f"load {_load()}")
    for problem in problems:
        print(f"# FAILED: {problem}")
    print(f"calls: {setups:.0f} setups/s sustained, p99 {_fmt(p99)} ms, peak {peak} concurrent, "
          f"{_fmt(kib_per_call)} KiB/call")
    def verdict(ok: bool) -> str:
        return "met" if ok else "not met"

    met = [f"setups/s >= 98% of {args.rate:g} offered: {verdict(setups >= 0.98 * args.rate)}",
           f"p99 < 50 ms ({where}): {verdict(p99 < 50)}",
           f"{args.hold} concurrent held: {verdict(bool(args.hold) and peak >= args.hold)}",
           f"every call correct: {'yes' if not problems else 'no'}"]
    print("# targets: " + "; ".join(met))
    return 1 if problems else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="coreswitch bench calls",
        description="Call setups/s, DTMF→media latency, concurrent calls and memory per call "
                    "of coreswitch serve running the 95598 flow, driven over ESL by the "
                    "simulated switch in its own process.")
    parser.add_argument("--rate", type=float, default=250.0, help="calls/s offered (250)")
    parser.add_argument("--duration", type=float, default=20.0,
                        help="seconds of calls at --rate (20)")
    parser.add_argument("--hold", type=int, default=2000,
                        help="calls held at once (2000; 0: skip the hold phase)")
    parser.add_argument("--hold-rate", type=float, default=50.0,
                        help="calls/s while ramping up the held calls (50)")
    parser.add_argument("--hold-time", type=float, default=10.0,
                        help="seconds the held calls stay up at the plateau (10)")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up calls (20)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="switch seconds per real second (1: real time)")
    parser.add_argument("--file-seconds", type=float, default=2.0,
                        help="length of each prompt file in switch seconds (2)")
    parser.add_argument("--phase-timeout", type=float, default=180.0,
                        help="seconds a phase may take after its last call is placed (180)")
    parser.add_argument("--tts-cache", default="",
                        help="TTS cache directory (default: fresh, rendered at start-up)")
    parser.add_argument("--profile", default="", metavar="FILE",
                        help="sample serve with py-spy during the rate phase into FILE "
                             "(raw collapsed stacks; speedscope if FILE ends in .json)")
    parser.add_argument("--profile-switch", default="", metavar="FILE",
                        help="the same for the simulated switch's process")
    parser.add_argument("--no-capture", action="store_true",
                        help="do not time DTMF→media on the wire with tcpdump (the switch-side "
                             "figure becomes the headline)")
    parser.add_argument("--keep-capture", metavar="FILE",
                        help="keep the rate phase's capture (pcap) in FILE, to look into")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 40 calls/s for 2 s, 50 held for 1 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.rate, args.duration, args.hold, args.hold_rate, args.hold_time = 40, 2, 50, 50, 1
        args.warmup = 5
    if args.rate <= 0 or args.duration <= 0 or args.hold < 0 or args.hold_rate <= 0:
        parser.error("--rate, --duration and --hold-rate must be positive, --hold >= 0")
    with tempfile.TemporaryDirectory(prefix="coreswitch-bench-calls-") as tmp:
        try:
            return run(args, Path(tmp))
        except BenchError as exc:
            print(f"calls: {exc}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
