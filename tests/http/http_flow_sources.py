"""Small flow sources for the registry tests."""

from __future__ import annotations


def flow(name: str = "demo", *, dnis: tuple[str, ...] = ("95598", "4000"), tag: str = "v1",
         greeting: str = "您好", broken: bool = False, comment: str = "") -> str:
    numbers = ", ".join(f'"{d}"' for d in dnis)
    last = "goto nowhere" if broken else "hangup"
    return (f"# {comment}\n"
            f"flow {name}:\n"
            f'  title "{name}"\n'
            f"  languages zh\n"
            f"  dnis {numbers}\n"
            f'  version "{tag}"\n'
            f"  start welcome\n"
            f"\n"
            f"state welcome:\n"
            f'  say "{greeting}"\n'
            f"  {last}\n")
