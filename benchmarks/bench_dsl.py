"""``coreswitch bench dsl``: parse + check + compile generated flows of 100, 1,000 and 5,000 states.

Prints one line per size::

    dsl <states> states: <seconds> s, <states/s> states/s

Run directly with ``python benchmarks/bench_dsl.py [--cpu] [SIZES...]``.

``<seconds>`` is wall-clock time, best of several runs (the development VM has 2 cores shared
with other work; the best run is the one least disturbed). ``--cpu`` reports the process's
CPU time instead.
"""

from __future__ import annotations

import sys
import time

DEFAULT_SIZES = (100, 1000, 5000)


def generate_flow(n: int) -> str:
    """A flow of ``n`` states that exercises every stage: menus, collects, calls, conditions."""
    out = [
        "flow bench:",
        '  title "生成的基准流程"',
        "  languages zh",
        '  dnis "95598"',
        "  start s0",
        "  max_visits 5 -> s0",
        "",
        "function crm.lookup(phone: text) -> record timeout=2s",
        "var count: int = 0",
        'var account: text = ""',
        "",
        "prompt menu:",
        '  zh "查询请按1，下一步请按2，人工服务请按0，重听请按星号键。"',
        "",
    ]
    for i in range(n):
        nxt = f"s{(i + 1) % n}"
        skip = f"s{(i + 2) % n}"
        out.append(f"state s{i}:")
        kind = i % 4
        if kind == 0:
            out += [
                "  menu:",
                "    prompt menu",
                "    timeout 5s",
                f"    key 1 -> {nxt}",
                f"    key 2 -> {skip}",
                '    key "*" repeat',
                f"    key 0 -> {nxt}",
                '    noinput: say "对不起，没有听到您的按键。"',
                '    nomatch: say "输入有误。"',
                f"    maxtries -> {nxt}",
            ]
        elif kind == 1:
            out += [
                "  collect account:",
                '    prompt "请输入户号，以井号键结束。"',
                "    length 10",
                '    noinput: say "没有听到。"',
                '    nomatch: say "户号为10位数字。"',
                f"    maxtries -> {nxt}",
                "  set count = count + 1",
                '  say "第{count as number}次，户号{last4(account) as digits}"',
                f"  goto {nxt}",
            ]
        elif kind == 2:
            out += [
                f"  call c{i} = crm.lookup(caller.ani) failure -> {nxt}",
                f'  if c{i}.vip and count < 3:',
                f'    say "尊敬的客户{{c{i}.name}}"',
                "  elif count >= 3:",
                "    set count = 0",
                f"  goto {nxt}",
            ]
        else:
            out += [
                '  say "您好，这里是生成的第' + str(i) + '个状态。"',
                "  switch count:",
                f"    case 1, 2 -> {nxt}",
                f"    default -> {skip}",
            ]
        out.append("")
    return "\n".join(out)


def measure(n: int, repeat: int = 5, *, cpu: bool = False) -> float:
    """Best time of ``repeat`` runs of parse + check + compile (every run does the full work;
    the best run is the one least disturbed by other processes)."""
    import dsl

    clock = time.process_time if cpu else time.perf_counter
    source = generate_flow(n)
    best = float("inf")
    for _ in range(repeat):
        t0 = clock()
        ir, diags = dsl.compile_source(source)
        best = min(best, clock() - t0)
        errors = [d for d in diags if d.is_error]
        if ir is None or errors:
            raise RuntimeError(f"generated flow of {n} states does not compile: {errors[:3]}")
        del ir, diags  # each run starts from the same heap
    return best


def main(argv: list[str]) -> int:
    cpu = "--cpu" in argv
    sizes = [int(a) for a in argv if a != "--cpu"] or list(DEFAULT_SIZES)
    from dsl.parser import parse_items

    parse_items("")  # load the grammar and build the tables outside the timings
    measure(50, repeat=2)  # warm up every stage once (imports, regex caches)
    for n in sizes:
        secs = measure(n, repeat=5, cpu=cpu)
        print(f"dsl {n} states: {secs:.3f} s, {n / secs:,.0f} states/s", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    sys.exit(main(sys.argv[1:]))
