"""Telling every node that a flow's live version changed.

The registry announces each publish and rollback with :meth:`Notifier.publish_changed` and
subscribes to the same notifier: when another node moves a flow, this node re-reads that flow's
live version from the database. :class:`LocalNotifier` serves one process; a Redis pub/sub
notifier for several nodes implements the same protocol.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger("coreswitch.flows.notifier")

#: ``callback(name, version)``: flow ``name`` now has ``version`` live.
ChangeCallback = Callable[[str, int], Awaitable[None]]
Unsubscribe = Callable[[], None]


class Notifier(Protocol):
    async def publish_changed(self, name: str, version: int) -> None:
        """Announce that ``version`` of flow ``name`` is now live. Never raises for a
        subscriber's failure."""

    def subscribe(self, callback: ChangeCallback) -> Unsubscribe:
        """Call ``callback`` for every announcement (this node's included); returns a function
        that cancels the subscription."""


class LocalNotifier:
    """In-process notifier: awaits each subscriber in turn, logging (not raising) failures."""

    def __init__(self) -> None:
        self._callbacks: list[ChangeCallback] = []

    async def publish_changed(self, name: str, version: int) -> None:
        for callback in list(self._callbacks):
            try:
                await callback(name, version)
            except Exception:
                log.exception("flow change subscriber failed", extra={"flow": name,
                                                                       "version": version})

    def subscribe(self, callback: ChangeCallback) -> Unsubscribe:
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unsubscribe
