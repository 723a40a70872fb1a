"""Building the ACD of a node from the configuration (``[acd]``, ``[state]``).

``[state] backend = "memory"`` keeps queues and agents in this process (one node);
``backend = "redis://host:6379/0"`` shares them with every node on that Redis (see
docs/operations.md, "Scaling out"). The queue log goes to the database (``[store]``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable

from coreswitch.acd.engine import CALLBACK_VARIABLE, Acd, AcdSettings, Api
from coreswitch.acd.model import AgentConfig, QueueConfig
from coreswitch.acd.queue_log import QueueLog
from coreswitch.acd.store import AcdStore
from coreswitch.config import AcdConfig, ConfigError
from coreswitch.esl.outbound import OutboundSession
from coreswitch.runtime.session import CallSession


def queue_configs(acd: AcdConfig) -> list[QueueConfig]:
    return [QueueConfig(name=name, strategy=q.strategy, ring_timeout=q.ring_timeout,
                        wrap_up=q.wrap_up, max_wait=q.max_wait,
                        max_wait_no_agent=q.max_wait_no_agent, join_empty=q.join_empty,
                        leave_empty=q.leave_empty, overflow_queue=q.overflow_queue,
                        skill_steps=tuple((float(s), int(m)) for s, m in q.skill_steps),
                        tier_wait=q.tier_wait, no_answer_delay=q.no_answer_delay,
                        busy_delay=q.busy_delay, reject_delay=q.reject_delay,
                        max_no_answer=q.max_no_answer, progressive_delay=q.progressive_delay,
                        service_level=q.service_level)
            for name, q in acd.queues.items()]


def agent_configs(acd: AcdConfig) -> list[AgentConfig]:
    return [AgentConfig(id=agent_id, endpoint=a.endpoint or f"user/{agent_id}", name=a.name,
                        queues=dict(a.queues), skills=dict(a.skills),
                        max_concurrent=a.max_concurrent, successor=a.successor,
                        handover_required=a.handover_required)
            for agent_id, a in acd.agents.items()]


def node_name(acd: AcdConfig) -> str:
    return acd.node or f"{socket.gethostname()}-{os.getpid()}"


async def open_store(backend: str) -> AcdStore:
    """The state store ``[state] backend`` names."""
    if backend == "memory":
        from coreswitch.acd.memory import MemoryStore  # noqa: PLC0415

        return MemoryStore()
    if backend.startswith(("redis://", "rediss://", "unix://")):
        from coreswitch.acd.redis_store import RedisStore  # noqa: PLC0415  # redis only here

        return await RedisStore.connect(backend)
    raise ConfigError(f"state.backend: expected \"memory\" or a redis:// URL, got {backend!r}")


def build(acd_config: AcdConfig, store: AcdStore, queue_log: QueueLog, *, api: Api | None,
          callback_socket: str) -> Acd:
    settings = AcdSettings(node=node_name(acd_config), callback_dial=acd_config.callback_dial,
                           callback_socket=callback_socket, hold_music=acd_config.hold_music,
                           tick=acd_config.tick)
    return Acd(store, queue_log, queues=queue_configs(acd_config),
               agents=agent_configs(acd_config), settings=settings, api=api)


async def login_configured(acd: Acd, acd_config: AcdConfig) -> None:
    """Log in the agents marked ``login = true`` (demos on the simulated switch)."""
    for agent_id, a in acd_config.agents.items():
        if a.login:
            await acd.login(agent_id)


Handler = Callable[[OutboundSession], Awaitable[None]]


def with_callbacks(acd: Acd, handler: Handler) -> Handler:
    """An outbound-socket handler that gives callback agent legs to the ACD and every other
    call to ``handler`` (the flows)."""
    async def handle(session: OutboundSession) -> None:
        offer_id = session.channel_data.get(f"variable_{CALLBACK_VARIABLE}")
        if not offer_id:
            await handler(session)
            return
        await acd.callback_leg(CallSession(session, session.uuid), offer_id)

    return handle
