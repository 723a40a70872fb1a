"""Plugin functions as flows call them: one registry, a timeout, and a failure on any fault.

A flow declares ``function billing.balance(account: text) -> record timeout=3s`` and calls it
with ``call bal = billing.balance(account) failure -> agent``. Whatever the implementation does —
raise, hang, return nonsense — the call survives: :meth:`FunctionRegistry.call` raises
:class:`FunctionFailed` with a short reason and the interpreter takes the failure route.

Implementations are plain callables: ``async def`` ones run on the event loop; ordinary ones run
in a worker thread (so a blocking CRM client cannot stall other calls). Built-ins are registered
here; plugins add theirs through the same :meth:`FunctionRegistry.register` (issue: plugins).
Returned values are converted to flow values: floats become decimals, tuples lists, and mapping
keys text.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

log = logging.getLogger("coreswitch.functions")

DEFAULT_TIMEOUT = 5.0


class FunctionFailed(Exception):
    """A flow function did not give a value; ``reason`` is short and safe to show."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True)
class Provided:
    name: str
    impl: Callable[..., object]
    provider: str


def flow_value(value: object) -> object:
    """A Python value from a plugin as the flow language sees it."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): flow_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [flow_value(v) for v in value]
    return value


class FunctionRegistry:
    """Flow functions by dotted name (``billing.balance``)."""

    def __init__(self) -> None:
        self._functions: dict[str, Provided] = {}

    def register(self, name: str, impl: Callable[..., object], *, provider: str = "builtin"
                 ) -> None:
        if name in self._functions and self._functions[name].provider != provider:
            raise ValueError(f"function {name!r} is already provided by "
                             f"{self._functions[name].provider!r}")
        self._functions[name] = Provided(name, impl, provider)

    def provides(self, name: str) -> bool:
        return name in self._functions

    def names(self) -> list[str]:
        return sorted(self._functions)

    def child(self) -> FunctionRegistry:
        """A copy to add call-local entries to (test mocks) without touching this one."""
        other = FunctionRegistry()
        other._functions = dict(self._functions)
        return other

    async def call(self, name: str, args: Sequence[object], kwargs: Mapping[str, object],
                   timeout: float | None = None) -> object:
        """Call ``name``; :class:`FunctionFailed` on absence, timeout or any exception."""
        provided = self._functions.get(name)
        if provided is None:
            raise FunctionFailed(name, "not provided")
        limit = DEFAULT_TIMEOUT if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                if inspect.iscoroutinefunction(provided.impl):
                    result = await provided.impl(*args, **kwargs)
                else:
                    result = await asyncio.to_thread(provided.impl, *args, **kwargs)
        except TimeoutError:
            log.warning("function %s (%s) timed out after %.1f s", name, provided.provider,
                        limit)
            raise FunctionFailed(name, "timeout") from None
        except FunctionFailed as exc:
            raise FunctionFailed(name, exc.reason) from None
        except Exception as exc:  # a plugin fault must never take a call down
            log.warning("function %s (%s) failed: %s: %s", name, provided.provider,
                        type(exc).__name__, exc)
            raise FunctionFailed(name, f"error: {type(exc).__name__}") from exc
        return flow_value(result)


def mock(value: object = None, *, fails: str | None = None) -> Callable[..., object]:
    """An implementation that returns ``value`` (or fails with ``fails``): flow tests' ``mock``."""

    async def mocked(*_args: object, **_kwargs: object) -> object:
        if fails is not None:
            raise FunctionFailed("mock", fails)
        return value

    return mocked
