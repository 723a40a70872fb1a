"""Helpers for the HTTP tests: small flow sources, an in-process client for an ASGI app."""

from __future__ import annotations

import httpx


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


def make_client(app: object, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """A client calling ``app`` in this event loop (no network)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                             base_url="http://admin", headers=headers)
