"""What serves calls: immutable live flows and the DNIS routing table built from them.

A :class:`RoutingTable` is never changed after it is built. The registry builds a new one for
every publish or rollback and replaces its reference in a single assignment, so a reader sees
either the whole old table or the whole new one. A call keeps the :class:`LiveFlow` it resolved
for its whole life, whatever is published meanwhile.

Routing rules: a flow serves the DNIS numbers in its header (``ir["dnis"]``); the ``[flows]
routes`` table of the configuration (DNIS → flow name) wins over headers. Two flows whose
headers claim the same number, with no configured route settling it, conflict: the table is
refused with :class:`DnisConflict`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

IR = dict[str, Any]


@dataclass(frozen=True, slots=True)
class LiveFlow:
    """One compiled, published flow version. Treat ``ir`` as read-only."""

    name: str
    version: int
    version_id: int
    content_hash: str
    ir: IR = field(repr=False, compare=False)

    @property
    def dnis(self) -> tuple[str, ...]:
        """The numbers this flow's header claims."""
        return tuple(str(d) for d in self.ir.get("dnis", ()))


class DnisConflict(ValueError):
    """Two flows claim the same DNIS number and no configured route settles it."""


@dataclass(frozen=True, slots=True)
class RoutingTable:
    """Live flows by name and by DNIS. Immutable; build with :func:`build_table`."""

    flows: Mapping[str, LiveFlow]
    routes: Mapping[str, LiveFlow]
    #: configured routes whose flow is not live (those numbers are not answered by a flow)
    dangling: Mapping[str, str]


def build_table(flows: Iterable[LiveFlow], configured: Mapping[str, str]) -> RoutingTable:
    """The routing table for ``flows`` (one per name); raises :class:`DnisConflict`."""
    by_name = {f.name: f for f in sorted(flows, key=lambda f: f.name)}
    routes: dict[str, LiveFlow] = {}
    for flow in by_name.values():
        for number in flow.dnis:
            if number in configured:
                continue
            other = routes.get(number)
            if other is not None and other.name != flow.name:
                raise DnisConflict(
                    f"DNIS {number} is claimed by flow '{other.name}' and by flow "
                    f"'{flow.name}' in their headers; a number can be served by one flow "
                    "only: remove it from one header or settle it in [flows].routes")
            routes[number] = flow
    dangling: dict[str, str] = {}
    for number, name in configured.items():
        target = by_name.get(name)
        if target is None:
            dangling[number] = name
        else:
            routes[number] = target
    return RoutingTable(MappingProxyType(by_name), MappingProxyType(routes),
                        MappingProxyType(dangling))


def served_numbers(table: RoutingTable, name: str) -> list[str]:
    """The DNIS numbers that reach flow ``name`` in ``table``, sorted."""
    return sorted(n for n, f in table.routes.items() if f.name == name)
