"""ESL events/s and p99 latency: coreswitch vs Genesis and greenswitch on the real 500-call corpus.

A replay server (``esl/server.py``, its own process) speaks mod_event_socket's handshake over
127.0.0.1 and streams the recorded corpus (``../shared/esl/load-{plain,json}.recv.gz``, 15,093
events each, repeated to at least ``--events``). Each client consumes the same bytes in its own
process (``esl/consumer_<client>.py``) and folds every decoded event into a digest that is checked
against a reference decoder's (``esl/prepare.py``). Per client and format it prints::

    esl <client> <format>: <events/s> events/s, p99 <ms> ms, correct=<yes|no>

events/s from an unpaced run (as fast as the socket takes the bytes), p99 of handler latency
(handler time − the event's scheduled send time) from a run paced at ``--rate`` events/s, each the
median of ``--runs`` runs; then the framing floor (coreswitch's ``FrameParser`` only) and a summary.

The PyPI peers (``genesis``, ``greenswitch`` + ``gevent``) are installed for the benchmark only,
into ``.bench-venv`` next to the checkout, on first use; they are never project dependencies.
"""

from __future__ import annotations

import argparse
import array
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ESL_DIR = HERE / "esl"
REPO = HERE.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "esl"
BENCH_VENV = Path(os.environ.get("CORESWITCH_BENCH_VENV", REPO / ".bench-venv"))

CLIENTS = ("coreswitch", "genesis", "greenswitch")
FORMATS = ("plain", "json")
#: What each peer cannot decode at all (checked in their sources; see docs/performance.md).
UNSUPPORTED = {
    ("genesis", "json"): "Genesis decodes text/event-plain only; JSON events reach handlers as "
                         "undecoded text",
    ("greenswitch", "json"): "greenswitch has no text/event-json decoding",
}
PEER_PACKAGES = {"genesis": ["genesis"], "greenswitch": ["greenswitch", "gevent"]}
PEER_IMPORTS = {"genesis": "import genesis", "greenswitch": "import gevent, greenswitch"}
CONSUMER_TIMEOUT = 900.0


@dataclass
class Series:
    """The runs of one (client, format)."""

    rates: list[float] = field(default_factory=list)
    p99s: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)  # consumer CPU µs per event (diagnostic)
    correct: list[bool] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unavailable: str | None = None

    def median_rate(self) -> float:
        return statistics.median(self.rates) if self.rates else 0.0

    def median_p99(self) -> float:
        return statistics.median(self.p99s) if self.p99s else float("nan")

    def all_correct(self) -> bool:
        return bool(self.correct) and all(self.correct)


class BenchError(RuntimeError):
    pass


def _env(*, main: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"  # digests are hash() values compared across processes
    env.pop("PYTHONPATH", None)
    if main:
        env["PYTHONPATH"] = str(REPO)
    return env


def _last_json(text: str) -> dict[str, object]:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            result: dict[str, object] = json.loads(line)
            return result
    raise BenchError(f"no result line in {text[-300:]!r}")


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- setup ----------------------------------------------------------------------------------------
def prepare(corpus: Path, fmt: str, events: list[int], out: Path) -> dict[str, object]:
    """Build the replay stream and its golden digests (``esl/prepare.py``, its own process)."""
    source = corpus / f"load-{fmt}.recv.gz"
    if not source.is_file():
        raise BenchError(f"corpus file {source} not found (use --corpus DIR)")
    proc = subprocess.run(
        [sys.executable, str(ESL_DIR / "prepare.py"), "--corpus", str(source), "--fmt", fmt,
         *[f"--events={n}" for n in events], "--out", str(out)],
        capture_output=True, text=True, env=_env(main=True), check=False)
    if proc.returncode != 0:
        raise BenchError(f"preparing the {fmt} stream failed: {proc.stderr.strip()[-500:]}")
    return _last_json(proc.stdout)


def bench_python(clients: list[str]) -> tuple[str | None, dict[str, str]]:
    """The bench venv's interpreter, creating it on first use; and why a peer is unavailable."""
    peers = [c for c in clients if c in PEER_PACKAGES]
    missing: dict[str, str] = {}
    if not peers:
        return None, missing
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        _progress(f"creating {BENCH_VENV} for the peer clients (first use)...")
        proc = subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            reason = f"cannot create {BENCH_VENV}: {proc.stderr.strip()[-200:]}"
            return None, dict.fromkeys(peers, reason)
    for peer in peers:
        if _importable(python, PEER_IMPORTS[peer]):
            continue
        _progress(f"installing {' '.join(PEER_PACKAGES[peer])} into {BENCH_VENV}...")
        proc = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES[peer]],
            capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not _importable(python, PEER_IMPORTS[peer]):
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            errors = [ln for ln in lines if "ERROR" in ln] or lines[-1:] or ["not importable"]
            missing[peer] = f"pip install failed: {errors[0][:160]}"
    return str(python), missing


def _importable(python: Path, statement: str) -> bool:
    proc = subprocess.run([str(python), "-c", statement], capture_output=True, check=False,
                          env=_env(main=False))
    return proc.returncode == 0


# -- one run --------------------------------------------------------------------------------------
def run_once(client: str, fmt: str, mode: str, data: Path, *, events: int, rate: float,
             python: str, tag: str) -> tuple[dict[str, object], dict[str, object]]:
    """Serve the stream once to one consumer; return (server result, consumer result)."""
    stream, index = data / f"{fmt}.stream", data / f"{fmt}.index"
    if events != _frames(index):
        index = _truncated_index(index, events, data / f"{fmt}.{events}.index")
    queued = data / f"{tag}.queued"
    server = subprocess.Popen(
        [sys.executable, str(ESL_DIR / "server.py"), "--stream", str(stream), "--index",
         str(index), "--rate", str(rate if mode == "paced" else 0), "--queued", str(queued)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(main=True))
    try:
        assert server.stdout is not None
        first = server.stdout.readline().split()
        if len(first) != 2 or first[0] != "PORT":
            raise BenchError(f"replay server did not start: {server.stderr.read()[-300:]}"
                             if server.stderr else "replay server did not start")
        consumer = subprocess.run(
            [python, str(ESL_DIR / f"consumer_{client}.py"), "--port", first[1], "--fmt", fmt,
             "--events", str(events), "--mode", mode, "--out", str(data / tag)],
            capture_output=True, text=True, env=_env(main=client in ("coreswitch", "floor")),
            timeout=CONSUMER_TIMEOUT, check=False)
        if consumer.returncode != 0:
            raise BenchError(f"{client} consumer failed (exit {consumer.returncode}): "
                             f"{consumer.stderr.strip()[-600:]}")
        out, _err = server.communicate(timeout=60)
    except BaseException:
        server.kill()
        server.wait()
        raise
    result = _last_json(out)
    if mode == "paced":
        result["queued"] = str(queued)
    return result, _last_json(consumer.stdout)


def _frames(index: Path) -> int:
    return index.stat().st_size // 8


def _truncated_index(index: Path, events: int, out: Path) -> Path:
    if not out.exists():
        ends = array.array("q")
        ends.frombytes(index.read_bytes()[:8 * events])
        out.write_bytes(ends.tobytes())
    return out


def read_array(path: str, code: str) -> array.array[int] | array.array[float]:
    values: array.array[int] | array.array[float] = array.array(code)
    values.frombytes(Path(path).read_bytes())
    return values


def check(consumer: dict[str, object], golden: array.array[int], events: int) -> tuple[bool, str]:
    """Compare a consumer's digests with the reference's: every event, count and content."""
    digests = read_array(str(consumer["digests"]), "q")
    if int(str(consumer["count"])) == events and digests == golden:
        return True, ""
    want, got = Counter(golden), Counter(digests)
    missing = sum((want - got).values())
    extra = sum((got - want).values())
    return False, (f"{consumer['count']} events handled, {missing} of {events} reference "
                   f"events not matched, {extra} decoded events not in the reference")


def p99_ms(server: dict[str, object], consumer: dict[str, object],
           events: int) -> tuple[float, float]:
    """p99 handler latency (ms) and p99 of the server's own lag behind its schedule (ms).

    Latency of event *i* = when the handler saw it − when the server queued it for sending: its
    scheduled time ``t0 + i / rate``, or later if the replay server itself woke up late (its own
    lag, e.g. not scheduled on a busy machine, is not the client's). A client too slow for the
    rate still pays in full: the server queues on schedule, the bytes wait in the socket.
    """
    times = read_array(str(consumer["times"]), "d")
    queued = read_array(str(server["queued"]), "d")
    t0 = float(str(server["t_start"]))
    rate = float(str(server["rate"]))
    latencies = sorted(t - q for t, q in zip(times[:events], queued, strict=False) if t > 0.0)
    lags = sorted(q - (t0 + i / rate) for i, q in enumerate(queued[:events]))
    if not latencies:
        return float("nan"), float("nan")
    return _p99(latencies) * 1000.0, _p99(lags) * 1000.0


def _p99(values: list[float]) -> float:
    rank = max(0, -(-99 * len(values) // 100) - 1)  # nearest-rank 99th percentile
    return values[rank]


# -- the benchmark --------------------------------------------------------------------------------
def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="coreswitch bench esl",
        description="ESL events/s and p99 latency of coreswitch vs genesis and greenswitch "
                    "on the real 500-call FreeSWITCH corpus.")
    parser.add_argument("--runs", type=int, default=None, help="runs per measurement (5)")
    parser.add_argument("--events", type=int, default=None,
                        help="events per run and format (30000: the 15,093-event corpus x2)")
    parser.add_argument("--paced-events", type=int, default=None,
                        help="events of the paced (latency) run (default: --events)")
    parser.add_argument("--rate", type=float, default=5000.0,
                        help="events/s of the paced latency run (5000)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1 run of 2,000 events (1,000 paced)")
    parser.add_argument("--clients", default=",".join(CLIENTS),
                        help="comma-separated: coreswitch,genesis,greenswitch")
    parser.add_argument("--formats", default=",".join(FORMATS), help="plain,json")
    parser.add_argument("--no-floor", action="store_true", help="skip the framing floor")
    parser.add_argument("--no-paced", action="store_true",
                        help="skip the paced latency runs (events/s only; p99 prints as nan)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                        help=f"directory of load-plain/load-json.recv.gz ({DEFAULT_CORPUS})")
    args = parser.parse_args(argv)

    runs = args.runs if args.runs is not None else (1 if args.quick else 5)
    events = args.events if args.events is not None else (2000 if args.quick else 30000)
    paced_target = args.paced_events if args.paced_events is not None else (
        1000 if args.quick else events)
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    for client in clients:
        if client not in CLIENTS:
            parser.error(f"unknown client {client!r} (choose from {', '.join(CLIENTS)})")
    for fmt in formats:
        if fmt not in FORMATS:
            parser.error(f"unknown format {fmt!r} (plain or json)")
    if runs < 1 or events < 1 or paced_target < 1 or args.rate <= 0:
        parser.error("--runs, --events, --paced-events and --rate must be positive")

    try:
        bench_py, unavailable = bench_python(clients)
    except OSError as exc:
        bench_py, unavailable = None, dict.fromkeys(
            [c for c in clients if c in PEER_PACKAGES], f"bench venv: {exc}")
    series: dict[tuple[str, str], Series] = {
        (c, f): Series() for c in [*clients, "floor"] for f in formats}
    for (client, fmt), s in series.items():
        if (client, fmt) in UNSUPPORTED:
            s.unavailable = "unsupported"
        elif client in unavailable:
            s.unavailable = f"unavailable ({unavailable[client]})"

    with tempfile.TemporaryDirectory(prefix="coreswitch-bench-esl-") as tmp:
        data = Path(tmp)
        manifests: dict[str, dict[str, object]] = {}
        try:
            for fmt in formats:
                _progress(f"preparing the {fmt} stream...")
                manifests[fmt] = prepare(args.corpus, fmt, [events, paced_target], data)
        except BenchError as exc:
            print(f"esl: {exc}", file=sys.stderr)
            return 2
        counts = manifests[formats[0]]["counts"]
        assert isinstance(counts, dict)
        n_thr, n_paced = int(counts[str(events)]), int(counts[str(paced_target)])
        thr_golden = {f: read_array(str(data / f"{f}.golden-{n_thr}"), "q") for f in formats}
        paced_golden = {f: read_array(str(data / f"{f}.golden-{n_paced}"), "q") for f in formats}
        load = os.getloadavg()[0]
        print(f"# ESL benchmark: {n_thr} events per run and format (corpus of "
              f"{manifests[formats[0]]['corpus_events']} events"
              f"{', repeated' if n_thr > int(str(manifests[formats[0]]['corpus_events'])) else ''}"
              f"), median of {runs} run{'s' if runs > 1 else ''}; p99 from {n_paced} events "
              f"paced at {args.rate:g} events/s; {os.cpu_count()} CPUs, load {load:.2f}",
              flush=True)

        failed = False
        for run in range(1, runs + 1):
            for fmt in formats:
                if not args.no_floor:
                    try:
                        server, floor = run_once("floor", fmt, "throughput", data, events=n_thr,
                                                 rate=0, python=sys.executable,
                                                 tag=f"floor-{fmt}-{run}")
                        if int(str(floor["count"])) != n_thr:
                            raise BenchError(f"{floor['count']} of {n_thr} event frames")
                        rate = n_thr / (float(str(floor["t_last"])) - float(str(server["t_start"])))
                        series["floor", fmt].rates.append(rate)
                        _progress(f"[run {run}/{runs}] framing-floor {fmt}: {rate:.0f} events/s")
                    except (BenchError, subprocess.TimeoutExpired, OSError) as exc:
                        _progress(f"[run {run}/{runs}] framing-floor {fmt}: failed: {exc}")
                for client in clients:
                    s = series[client, fmt]
                    if s.unavailable:
                        continue
                    python = sys.executable if client == "coreswitch" else bench_py
                    assert python is not None
                    try:
                        server, res = run_once(client, fmt, "throughput", data, events=n_thr,
                                               rate=0, python=python, tag=f"{client}-{fmt}-{run}")
                        count = int(str(res["count"]))
                        elapsed = float(str(res["t_last"])) - float(str(server["t_start"]))
                        # An incomplete run (events lost or a stall) has no meaningful rate.
                        rate = count / elapsed if count == n_thr and elapsed > 0 else 0.0
                        ok, note = check(res, thr_golden[fmt], n_thr)
                        s.rates.append(rate)
                        s.correct.append(ok)
                        if isinstance(res.get("cpu_us_per_event"), float):
                            s.cpus.append(float(str(res["cpu_us_per_event"])))
                        if note and note not in s.notes:
                            s.notes.append(note)
                        if args.no_paced:
                            _progress(f"[run {run}/{runs}] {client} {fmt}: {s.rates[-1]:.0f} "
                                      f"events/s, {_cpu(s)}, correct={_yes(s.correct[-1:])}")
                            continue
                        server, res = run_once(client, fmt, "paced", data, events=n_paced,
                                               rate=args.rate, python=python,
                                               tag=f"{client}-{fmt}-{run}-paced")
                        ok, note = check(res, paced_golden[fmt], n_paced)
                        s.correct.append(ok)
                        if note and f"paced: {note}" not in s.notes:
                            s.notes.append(f"paced: {note}")
                        p99, lag = p99_ms(server, res, n_paced)
                        s.p99s.append(p99)
                        _progress(f"[run {run}/{runs}] {client} {fmt}: {s.rates[-1]:.0f} "
                                  f"events/s, {_cpu(s)}, p99 {p99:.1f} ms (replay server lag p99 "
                                  f"{lag:.1f} ms), correct={_yes(s.correct[-2:])}")
                    except (BenchError, subprocess.TimeoutExpired, OSError) as exc:
                        _progress(f"[run {run}/{runs}] {client} {fmt}: failed: {exc}")
                        s.notes.append(f"run {run} failed: {str(exc)[:200]}")
                        s.correct.append(False)
                        failed = failed or client == "coreswitch"

    report(series, clients, formats)
    return 1 if failed else 0


def _cpu(s: Series) -> str:
    return f"{s.cpus[-1]:.0f} CPU-us/event" if s.cpus else "CPU n/a"


def _yes(flags: list[bool]) -> str:
    return "yes" if flags and all(flags) else "no"


def report(series: dict[tuple[str, str], Series], clients: list[str], formats: list[str]) -> None:
    for client in clients:
        for fmt in formats:
            s = series[client, fmt]
            if s.unavailable:
                reason = s.unavailable
                if reason == "unsupported":
                    print(f"esl {client} {fmt}: unsupported ({UNSUPPORTED[client, fmt]})")
                else:
                    print(f"esl {client} {fmt}: {reason}")
                continue
            if not s.rates:
                print(f"esl {client} {fmt}: failed ({'; '.join(s.notes)[:300]})")
                continue
            print(f"esl {client} {fmt}: {s.median_rate():.0f} events/s, "
                  f"p99 {s.median_p99():.1f} ms, correct={_yes(s.correct)}")
            if not s.all_correct():
                for note in s.notes[:3]:
                    print(f"#   {client} {fmt}: {note}")
    cpu = [f"{c} {f} {statistics.median(series[c, f].cpus):.0f}" for c in clients
           for f in formats if series[c, f].cpus]
    if cpu:
        print(f"# consumer CPU time per event (median, us; less noisy than events/s on a shared "
              f"machine): {', '.join(cpu)}")
    core = {f: series["coreswitch", f] for f in formats if ("coreswitch", f) in series}
    for fmt in formats:
        floor = series["floor", fmt]
        if not floor.rates:
            continue
        line = f"esl framing-floor {fmt}: {floor.median_rate():.0f} events/s"
        c = core.get(fmt)
        if c is not None and c.rates and not c.unavailable:
            line += f" (coreswitch at {100 * c.median_rate() / floor.median_rate():.1f}% of floor)"
        print(line)
    if not core or not all(c.rates for c in core.values()):
        return
    genesis = series.get(("genesis", "plain"))
    green = series.get(("greenswitch", "plain"))
    parts = []
    for name, peer in (("genesis plain", genesis), ("greenswitch plain", green)):
        if peer is not None and peer.rates:
            ratios = ", ".join(f"{core[f].median_rate() / peer.median_rate():.2f}x ({f})"
                               for f in formats)
            parts.append(f"vs {name}: {ratios}")
    if parts:
        print(f"esl summary: coreswitch {'; '.join(parts)}")
    targets = [f"correct in {'/'.join(formats)}: "
               f"{_met(all(c.all_correct() for c in core.values()))}"]
    if genesis is not None and genesis.rates:
        targets.append(">= 2.0x genesis plain: " + _met(all(
            c.median_rate() >= 2.0 * genesis.median_rate() for c in core.values())))
    if green is not None and green.rates:
        targets.append(">= greenswitch plain: " + _met(all(
            c.median_rate() >= green.median_rate() for c in core.values())))
    p99s = ", ".join(f"{f} {core[f].median_p99():.1f} ms" for f in formats)
    targets.append(f"p99 < 20 ms paced ({p99s}): "
                   + _met(all(c.median_p99() < 20.0 for c in core.values())))
    print(f"esl targets: {'; '.join(targets)}")


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
