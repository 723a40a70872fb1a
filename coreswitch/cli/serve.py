"""``coreswitch serve``: the server.

With no ``--config`` it runs on the embedded defaults: the built-in simulated switch (an ESL server
on 127.0.0.1:8021 in this process), SQLite, in-process state, flows from ./flows or examples/flows,
and the admin HTTP API on 127.0.0.1:8080 (``GET /healthz``).

Start-up order: database (migrated) → flow registry (live versions restored, flow directories
loaded) → switch (the simulator when ``[switch].kind = "sim"``) → the inbound ESL connection →
the outbound-socket listener → HTTP. SIGTERM/SIGINT stop accepting calls, give calls in progress
``--drain`` seconds, then shut down in reverse order.

Each call that reaches the outbound socket runs the flow its DNIS resolves to at that instant
(publishing later does not move it); its call record, with the transcript, is written when it
ends (``GET /api/calls/{uuid}``). Prompts are rendered by the TTS engine into the cache; every
flow's fixed prompts are rendered when it is published (at start-up too), so calls do not wait
for speech synthesis.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

import uvicorn

from coreswitch import eventloop
from coreswitch.acd import setup as acd_setup
from coreswitch.acd.engine import Acd
from coreswitch.acd.queue_log import DatabaseQueueLog
from coreswitch.collector import ScheduledCollector
from coreswitch.config import Config, ConfigError, load_config, parse_address
from coreswitch.esl import AccessDenied, AuthenticationError, ConnectionLost, InboundClient
from coreswitch.esl.outbound import OutboundServer
from coreswitch.flows import FlowRegistry, LocalNotifier
from coreswitch.flows.watch import watch_directories
from coreswitch.http import acd_api, build_server, calls_api, create_app, sim_api
from coreswitch.logs import setup_logging
from coreswitch.media.cache import TtsCache
from coreswitch.media.progress import ProgressBar
from coreswitch.media.recording import RecordingStore
from coreswitch.media.tts import open_tts_cache
from coreswitch.runtime.functions import FunctionRegistry
from coreswitch.runtime.interpreter import Deps
from coreswitch.runtime.prompts import TtsRenderer
from coreswitch.runtime.service import CallRecorder, CallService
from coreswitch.runtime.services import DatabaseServices
from coreswitch.runtime.session import SESSION_EVENTS
from coreswitch.store import Database
from coreswitch.switch.sim.agents import Agent as SimAgent
from coreswitch.switch.sim.switch import SimSwitch
from dsl import Environment

log = logging.getLogger("coreswitch.serve")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "serve", help="run the server (simulated switch when none is configured)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="TOML configuration file (default: built-in)")
    parser.add_argument("--drain", type=float, default=30.0,
                        help="seconds calls in progress may take to finish on shutdown (30)")
    parser.add_argument("--watch", action="store_true",
                        help="development: republish flow files as they are saved "
                             "(also [flows] watch = true)")
    parser.add_argument("--log-format", choices=("json", "text"), default="json")
    parser.add_argument("--log-level", default="info")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level, args.log_format)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"coreswitch serve: {exc}", file=sys.stderr)
        return 2
    _absolute_media_paths(config)
    # The event loop gives up the GIL at every socket write and epoll wait; when another
    # thread (the database writer) holds it, the loop waits up to the switch interval to get it
    # back. 5 ms (CPython's default) put tens of milliseconds on some calls' reaction to a key.
    sys.setswitchinterval(0.0005)
    try:
        if args.watch:
            config.flows.watch = True
        eventloop.run(_serve(config, drain=args.drain))
    except (AuthenticationError, AccessDenied) as exc:
        print(f"coreswitch serve: {exc}", file=sys.stderr)
        return 1
    except (ConnectionLost, OSError) as exc:
        print(f"coreswitch serve: {exc}", file=sys.stderr)
        return 1
    return 0


def _set_state(state: object, **values: object) -> None:
    """What the HTTP handlers reach through ``request.app.state``."""
    for name, value in values.items():
        setattr(state, name, value)


def _http_server(config: Config, registry: FlowRegistry, **state: object) -> uvicorn.Server:
    """The admin API and dashboard; ``state``: what the handlers reach in ``app.state``."""
    app = create_app(registry, token=config.http.admin_token,
                     extra_routes=[*calls_api.routes, *sim_api.routes, *acd_api.routes])
    _set_state(app.state, **state)
    return build_server(app, config.http.bind)


def _absolute_media_paths(config: Config) -> None:
    """Make the media directories absolute (from the working directory): coreswitch hands
    these paths to FreeSWITCH, which resolves a relative ``playback`` path against its own
    sounds directory."""
    config.tts.cache_dir = str(Path(config.tts.cache_dir).absolute())
    config.media.sounds_dir = str(Path(config.media.sounds_dir).absolute())
    config.media.recordings_dir = str(Path(config.media.recordings_dir).absolute())


def _flow_directories(config: Config) -> list[str]:
    """The configured directories that exist (defaults: ./flows, else examples/flows)."""
    existing = [d for d in config.flows.directories if Path(d).is_dir()]
    return existing[:1] if config.flows.directories == ["flows", "examples/flows"] else existing


async def _load_flows(config: Config, database: Database, renderer: TtsRenderer,
                      settings: dict[str, object]) -> FlowRegistry:
    """The registry with the live versions restored and the flow directories published; every
    publish pre-renders the flow's fixed prompts (a progress bar at start-up)."""
    progress: list[ProgressBar | None] = [ProgressBar("prompts")]

    async def prerender(ir: dict[str, object]) -> None:
        await renderer.cache.prerender(renderer.prompts(ir, settings), progress[0])

    registry = FlowRegistry(database, Environment, LocalNotifier(), prerender,
                            routes=config.flows.routes)
    await registry.restore()
    await registry.load_directory(_flow_directories(config))  # logs each file's outcome
    progress[0] = None  # later publishes (HTTP) log; they draw nothing
    return registry


async def _start_sim(config: Config) -> SimSwitch | None:
    if config.switch.kind != "sim":
        return None
    sim = SimSwitch(config.switch.host, config.switch.port, config.switch.password)
    _sim_agents(sim, config)
    await sim.start()
    log.info("simulated switch listening on %s:%s", config.switch.host, sim.port)
    return sim


def _deps(config: Config, renderer: TtsRenderer, settings: dict[str, object],
          acd: Acd, database: Database) -> Deps:
    """What every call shares: functions (plugins add theirs later), services, media."""
    return Deps(FunctionRegistry(), DatabaseServices(acd=acd, database=database), renderer,
                recordings=RecordingStore(config.media.recordings_dir), settings=settings,
                sounds_dir=config.media.sounds_dir, transfer_dial=config.switch.transfer_dial)


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _serve(config: Config, *, drain: float) -> None:
    stop = _stop_on_signals()
    database = Database(config.store.url)
    await database.upgrade()
    renderer = TtsRenderer(cache := open_tts_cache(config.tts), voice=config.tts.voice,
                           rate=config.tts.rate)
    settings = dict(config.flows.settings)
    registry = await _load_flows(config, database, renderer, settings)

    sim = await _start_sim(config)
    recorder = CallRecorder(database)
    recorder.start()
    # A control link (api/bgapi: callbacks' originate): each call's events come on its own
    # outbound socket, so this link takes no channel events (they would be decoded twice).
    client = InboundClient(config.switch.host, sim.port if sim else config.switch.port,
                           config.switch.password, events=(), channels=False,
                           event_format=config.switch.event_format,
                           connect_timeout=config.switch.connect_timeout,
                           command_timeout=config.switch.command_timeout)
    host, port = parse_address(config.switch.outbound_listen, "switch.outbound_listen")
    acd = await _build_acd(config, database, client)
    on_call = CallService(registry, _deps(config, renderer, settings, acd, database), recorder)
    outbound = OutboundServer(acd_setup.with_callbacks(acd, on_call), host, port,
                              event_format=config.switch.event_format,
                              linger=config.switch.linger, events=SESSION_EVENTS,
                              backlog=config.switch.outbound_backlog)
    http = None
    collector = ScheduledCollector(young_every=config.gc.young_every,
                                   full_every=config.gc.full_every)
    try:
        await outbound.start()  # before the inbound link: the switch may send calls at once
        log.info("outbound socket listening on %s:%s", host, outbound.port)
        acd.settings.callback_socket = f"{_local(host)}:{outbound.port} async full"
        await client.start()
        await _start_acd(acd, config)
        http = _http_server(config, registry, calls=on_call, database=database, sim=sim,
                            acd=acd, outbound_address=f"{_local(host)}:{outbound.port}")
        http_task = asyncio.ensure_future(http.serve())
        watcher = (asyncio.ensure_future(watch_directories(registry, _flow_directories(config)))
                   if config.flows.watch else None)
        collector.start()
        log.info("coreswitch ready: HTTP on %s", config.http.bind)
        stopped = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({http_task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if http_task in done:
            http_task.result()  # re-raise a bind failure
        log.info("shutting down: draining calls for up to %.0f s", drain)
        http.should_exit = True
        if watcher is not None:
            watcher.cancel()
        await http_task
    finally:
        collector.stop()
        await outbound.close(drain=drain)
        await _stop_acd(acd)
        await recorder.close()
        await client.close()
        if sim is not None:
            await sim.stop()
        with contextlib.suppress(Exception):
            registry.close()
        _close_cache(cache)
        await database.close()


async def _build_acd(config: Config, database: Database, client: InboundClient) -> Acd:
    """The ACD on the configured state store, its queue log in the database. Callbacks ring
    the agent with ``bgapi originate`` (never ``api``: it would hold the ESL link while the
    phone rings); the socket address is set once the outbound listener has its port."""
    store = await acd_setup.open_store(config.state.backend)

    async def originate(command: str, args: str) -> str:
        return await client.bgapi(command, args, check=False, timeout=300)

    return acd_setup.build(config.acd, store, DatabaseQueueLog(database), api=originate,
                           callback_socket="")


async def _start_acd(acd: Acd, config: Config) -> None:
    await acd.start()
    await acd_setup.login_configured(acd, config.acd)
    log.info("ACD node %s: %d queues, %d agents, state %s", acd.node, len(acd.queues),
             len(acd.agent_configs), config.state.backend)


async def _stop_acd(acd: Acd) -> None:
    """Stop the ACD, each step bounded: a state store that stopped answering (Redis
    restarting) must not keep the server from shutting down."""
    for step, limit in ((acd.stop, 5.0), (acd.store.close, 5.0), (acd.log.close, 5.0)):
        try:
            async with asyncio.timeout(limit):
                await step()
        except TimeoutError:
            log.error("shutdown: %s did not finish within %.0f s; going on",
                      getattr(step, "__qualname__", step), limit)


def _sim_agents(sim: SimSwitch, config: Config) -> None:
    """On the simulated switch, every configured agent gets a virtual phone (answers after
    2 s, talks 30 s) so a demo's queues are served."""
    for agent_id, agent in config.acd.agents.items():
        endpoint = agent.endpoint or f"user/{agent_id}"
        extension = endpoint.rsplit("/", 1)[-1].split("@", 1)[0]
        if extension not in sim.dialer.agents:
            sim.dialer.add(SimAgent(extension, answer_after=2.0, talk_time=30.0))


def _local(host: str) -> str:
    """An address to reach a listener bound to ``host`` from this machine."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def _close_cache(cache: TtsCache) -> None:
    with contextlib.suppress(Exception):
        cache.close()
