"""Errors of the flow registry.

    RegistryError                 base class
    ├── UnknownFlow               no version of the named flow was ever published
    └── UnknownVersion            the flow exists but has no version with that number

A refused publish or rollback is not an exception: it is a
:class:`~coreswitch.flows.result.PublishResult` with status ``refused``.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base class of the registry's errors."""


class UnknownFlow(RegistryError):
    """No version of the named flow was ever published."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no flow named '{name}' has been published")
        self.name = name


class UnknownVersion(RegistryError):
    """The flow exists, but not with that version number."""

    def __init__(self, name: str, version: int, latest: int) -> None:
        super().__init__(f"flow '{name}' has no version {version} (versions 1 to {latest})")
        self.name = name
        self.version = version
        self.latest = latest
