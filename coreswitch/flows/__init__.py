"""Flows at run time: the registry of published versions, DNIS routing and hot reload.

:class:`FlowRegistry` publishes (check → compile → store → atomic swap), rolls back, and
resolves a DNIS to the :class:`LiveFlow` a new call runs. :mod:`~coreswitch.flows.notifier`
tells other nodes; :mod:`~coreswitch.flows.watch` republishes files as they change (development).
"""

from coreswitch.flows.errors import RegistryError, UnknownFlow, UnknownVersion
from coreswitch.flows.live import DnisConflict, LiveFlow, RoutingTable, build_table
from coreswitch.flows.notifier import ChangeCallback, LocalNotifier, Notifier
from coreswitch.flows.registry import (
    EnvProvider,
    FlowRegistry,
    LoadOutcome,
    Prerender,
    discover,
    header_name,
)
from coreswitch.flows.result import (
    PublishResult,
    PublishStatus,
    Refusal,
    Validation,
    VersionInfo,
)

__all__ = [
    "ChangeCallback",
    "DnisConflict",
    "EnvProvider",
    "FlowRegistry",
    "LiveFlow",
    "LoadOutcome",
    "LocalNotifier",
    "Notifier",
    "Prerender",
    "PublishResult",
    "PublishStatus",
    "Refusal",
    "RegistryError",
    "RoutingTable",
    "UnknownFlow",
    "UnknownVersion",
    "Validation",
    "VersionInfo",
    "build_table",
    "discover",
    "header_name",
]
