"""The coreswitch configuration: one TOML file, every key with a default.

``load_config(None)`` gives the embedded defaults (simulated switch, SQLite file, in-process state,
flows from ``./flows`` or ``examples/flows``, HTTP on 127.0.0.1:8080). A file only needs the keys it
changes. Unknown keys and wrong types are refused with the path of the offending key, e.g.
``config.toml: switch.port: Expected `int`, got `str```.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec


class ConfigError(ValueError):
    """The configuration file cannot be read or does not validate."""


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class SwitchConfig(_Section):
    """``[switch]``: which switch to drive and how to reach it."""

    kind: Literal["sim", "freeswitch"] = "sim"
    host: str = "127.0.0.1"
    port: int = 8021  # FreeSWITCH's event socket (inbound connection)
    password: str = "ClueCon"
    event_format: Literal["plain", "json"] = "json"
    outbound_listen: str = "127.0.0.1:8084"  # where FreeSWITCH's `socket` app connects per call
    #: Calls connected to the outbound socket but not yet accepted that the kernel keeps
    #: (capped by net.core.somaxconn); past it a burst of calls is dropped at connect.
    outbound_backlog: int = 1024
    linger: int = 10  # seconds an outbound socket lingers after hangup
    connect_timeout: float = 5.0
    command_timeout: float = 30.0
    #: How ``transfer "NUMBER"`` dials (``{to}`` is the number). Flows name numbers only (a
    #: target with ``/`` or other dial-string syntax is refused): the technology and gateway
    #: are set here. FreeSWITCH: e.g. "loopback/{to}/default" or "sofia/gateway/pstn/{to}".
    transfer_dial: str = "user/{to}"


class StoreConfig(_Section):
    """``[store]``: the SQLAlchemy database URL."""

    url: str = "sqlite:///coreswitch.db"


class StateConfig(_Section):
    """``[state]``: ``memory`` (one node) or a ``redis://`` URL (several nodes share queues)."""

    backend: str = "memory"


class AcdQueueConfig(_Section):
    """``[acd.queues.NAME]``: one queue (see :class:`coreswitch.acd.model.QueueConfig`)."""

    strategy: str = "longest-idle"
    ring_timeout: float = 15.0
    wrap_up: float = 10.0
    max_wait: float = 300.0
    max_wait_no_agent: float = 0.0
    join_empty: bool = True
    leave_empty: bool = False
    overflow_queue: str | None = None
    #: [[seconds waited, minimum proficiency], ...], e.g. [[0, 4], [30, 2], [60, 0]]
    skill_steps: list[tuple[float, int]] = msgspec.field(default_factory=lambda: [(0.0, 0)])
    tier_wait: float = 0.0
    no_answer_delay: float = 30.0
    busy_delay: float = 60.0
    reject_delay: float = 30.0
    max_no_answer: int = 3
    progressive_delay: float = 5.0
    service_level: float = 20.0


class AcdAgentConfig(_Section):
    """``[acd.agents."ID"]``: one agent (工号); see :class:`coreswitch.acd.model.AgentConfig`."""

    endpoint: str = ""  # dial string of the agent's phone; default "user/ID"
    name: str = ""
    queues: dict[str, int] = msgspec.field(default_factory=dict)  # queue → tier
    skills: dict[str, int] = msgspec.field(default_factory=dict)  # skill → proficiency 1..5
    max_concurrent: int = 1
    successor: str | None = None
    handover_required: bool = False
    login: bool = False  # log in when the server starts (demos, the simulated switch)


class AcdConfig(_Section):
    """``[acd]``: queues, agents and how the ACD reaches callers and customers."""

    node: str = ""  # this node's name in shared state; default: host name + process id
    hold_music: str = "local_stream://moh"
    #: How a booked callback dials the customer; ``{number}`` is the caller's number (digits).
    callback_dial: str = "sofia/gateway/default/{number}"
    tick: float = 1.0  # seconds between distribution rounds and expiry checks
    queues: dict[str, AcdQueueConfig] = msgspec.field(default_factory=dict)
    agents: dict[str, AcdAgentConfig] = msgspec.field(default_factory=dict)


class HttpConfig(_Section):
    """``[http]``: the admin API and dashboard."""

    bind: str = "127.0.0.1:8080"
    admin_token: str = ""


class FlowsConfig(_Section):
    """``[flows]``: where flows live and which DNIS runs which flow."""

    directories: list[str] = msgspec.field(default_factory=lambda: ["flows", "examples/flows"])
    routes: dict[str, str] = msgspec.field(default_factory=dict)  # DNIS → flow name
    watch: bool = False
    #: Values for the flows' ``setting`` variables (name → value), e.g. company = "国网XX供电公司".
    settings: dict[str, Any] = msgspec.field(default_factory=dict)


class MediaConfig(_Section):
    """``[media]``: audio files. FreeSWITCH must see these paths (same host or shared storage)."""

    sounds_dir: str = "sounds"  # relative `play "x.wav"` paths and prompt files resolve here
    recordings_dir: str = "var/recordings"  # `record` and `voicemail` files + metadata


class TtsConfig(_Section):
    """``[tts]``: text-to-speech rendering."""

    engine: str = "pyttsx3"
    voice: str = "zh"
    rate: int = 160
    cache_dir: str = "var/tts"


class PluginsConfig(_Section):
    """``[plugins]``: which plugins run and their settings (validated by each plugin's schema)."""

    enable: list[str] = msgspec.field(default_factory=list)  # empty: every installed plugin
    disable: list[str] = msgspec.field(default_factory=list)
    settings: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)


class GcConfig(_Section):
    """``[gc]``: when the cyclic garbage collector runs (``coreswitch/collector.py``)."""

    full_every: float = 600.0  # seconds between full collections (0: never)
    young_every: float = 0.0  # seconds between young-generation collections (0: never)


class Config(_Section):
    switch: SwitchConfig = msgspec.field(default_factory=SwitchConfig)
    store: StoreConfig = msgspec.field(default_factory=StoreConfig)
    state: StateConfig = msgspec.field(default_factory=StateConfig)
    http: HttpConfig = msgspec.field(default_factory=HttpConfig)
    flows: FlowsConfig = msgspec.field(default_factory=FlowsConfig)
    tts: TtsConfig = msgspec.field(default_factory=TtsConfig)
    media: MediaConfig = msgspec.field(default_factory=MediaConfig)
    plugins: PluginsConfig = msgspec.field(default_factory=PluginsConfig)
    acd: AcdConfig = msgspec.field(default_factory=AcdConfig)
    gc: GcConfig = msgspec.field(default_factory=GcConfig)


def parse_address(text: str, what: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:port`` for IPv6) → (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(f"{what}: expected host:port, got {text!r}")
    return host.strip("[]"), int(port)


def load_config(path: str | Path | None) -> Config:
    """Read and validate a TOML file, or return the embedded defaults when ``path`` is None."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        config = msgspec.convert(data, Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: {_readable(str(exc))}") from None
    parse_address(config.switch.outbound_listen, f"{path}: switch.outbound_listen")
    parse_address(config.http.bind, f"{path}: http.bind")
    if config.switch.outbound_backlog < 1:
        raise ConfigError(f"{path}: switch.outbound_backlog: must be at least 1, got "
                          f"{config.switch.outbound_backlog}")
    for key in ("full_every", "young_every"):
        if getattr(config.gc, key) < 0:
            raise ConfigError(f"{path}: gc.{key}: must be 0 (never) or positive, got "
                              f"{getattr(config.gc, key)}")
    _check_acd(config.acd, path)
    return config


def _check_acd(acd: AcdConfig, path: Path) -> None:
    from coreswitch.acd import strategies  # noqa: PLC0415  # config stays importable alone

    for name, q in acd.queues.items():
        try:
            strategies.get(q.strategy)
        except ValueError as exc:
            raise ConfigError(f"{path}: acd.queues.{name}.strategy: {exc}") from None
        if q.overflow_queue is not None and q.overflow_queue not in acd.queues:
            raise ConfigError(f"{path}: acd.queues.{name}.overflow_queue: no queue "
                              f"{q.overflow_queue!r} in [acd.queues]")
    for agent_id, a in acd.agents.items():
        for queue in a.queues:
            if queue not in acd.queues:
                raise ConfigError(f"{path}: acd.agents.{agent_id}.queues: no queue {queue!r} "
                                  "in [acd.queues]")
        for skill, level in a.skills.items():
            if not 1 <= level <= 5:
                raise ConfigError(f"{path}: acd.agents.{agent_id}.skills.{skill}: proficiency "
                                  f"must be 1..5, got {level}")
        if a.successor is not None and a.successor not in acd.agents:
            raise ConfigError(f"{path}: acd.agents.{agent_id}.successor: no agent "
                              f"{a.successor!r} in [acd.agents]")


def _readable(message: str) -> str:
    # msgspec says "... - at `$.switch.port`"; lead with the key path instead.
    text, sep, where = message.rpartition(" - at `$.")
    if not sep:
        return message
    return f"{where.rstrip('`')}: {text}"
