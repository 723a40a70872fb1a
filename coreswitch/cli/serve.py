"""``coreswitch serve``: the server.

With no ``--config`` it runs on the embedded defaults: the built-in simulated switch (an ESL server
on 127.0.0.1:8021 in this process), SQLite, in-process state, flows from ./flows or examples/flows,
and the admin HTTP API on 127.0.0.1:8080 (``GET /healthz``).

Start-up order: database (migrated) → flow registry (live versions restored, flow directories
loaded) → switch (the simulator when ``[switch].kind = "sim"``) → the inbound ESL connection →
the outbound-socket listener → HTTP. SIGTERM/SIGINT stop accepting calls, give calls in progress
``--drain`` seconds, then shut down in reverse order.

Not built yet (issue 4): running a flow on a call. Until the interpreter lands, each call that
reaches the outbound socket is logged with the flow version its DNIS resolves to and handed back
to the dialplan (``exit``), whose fallback action takes it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from coreswitch.config import Config, ConfigError, load_config, parse_address
from coreswitch.esl import AccessDenied, AuthenticationError, ConnectionLost, InboundClient
from coreswitch.esl.outbound import OutboundServer, OutboundSession
from coreswitch.flows import FlowRegistry, LocalNotifier
from coreswitch.http import build_server, create_app
from coreswitch.logs import setup_logging
from coreswitch.store import Database
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
    try:
        asyncio.run(_serve(config, drain=args.drain))
    except (AuthenticationError, AccessDenied) as exc:
        print(f"coreswitch serve: {exc}", file=sys.stderr)
        return 1
    except (ConnectionLost, OSError) as exc:
        print(f"coreswitch serve: {exc}", file=sys.stderr)
        return 1
    return 0


def _flow_directories(config: Config) -> list[str]:
    """The configured directories that exist (defaults: ./flows, else examples/flows)."""
    existing = [d for d in config.flows.directories if Path(d).is_dir()]
    return existing[:1] if config.flows.directories == ["flows", "examples/flows"] else existing


async def _serve(config: Config, *, drain: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    database = Database(config.store.url)
    await database.upgrade()
    registry = FlowRegistry(database, Environment, LocalNotifier(), routes=config.flows.routes)
    await registry.restore()
    await registry.load_directory(_flow_directories(config))  # logs each file's outcome

    sim: SimSwitch | None = None
    if config.switch.kind == "sim":
        sim = SimSwitch(config.switch.host, config.switch.port, config.switch.password)
        await sim.start()
        log.info("simulated switch listening on %s:%s", config.switch.host, sim.port)

    async def on_call(session: OutboundSession) -> None:
        dnis = session.channel_data.get("Caller-Destination-Number", "")
        live = registry.resolve(dnis)
        log.warning("call %s to %s: flow %s; the flow runtime is not built yet, handing the call"
                    " back to the dialplan", session.uuid, dnis,
                    f"{live.name} v{live.version}" if live else "(none)")

    host, port = parse_address(config.switch.outbound_listen, "switch.outbound_listen")
    outbound = OutboundServer(on_call, host, port, event_format=config.switch.event_format,
                              linger=config.switch.linger)
    client = InboundClient(config.switch.host, sim.port if sim else config.switch.port,
                           config.switch.password, event_format=config.switch.event_format,
                           connect_timeout=config.switch.connect_timeout,
                           command_timeout=config.switch.command_timeout)
    http = None
    try:
        await client.start()
        await outbound.start()
        log.info("outbound socket listening on %s:%s", host, outbound.port)
        app = create_app(registry, token=config.http.admin_token)
        http = build_server(app, config.http.bind)
        http_task = asyncio.ensure_future(http.serve())
        log.info("coreswitch ready: HTTP on %s", config.http.bind)
        stopped = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({http_task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if http_task in done:
            http_task.result()  # re-raise a bind failure
        log.info("shutting down: draining calls for up to %.0f s", drain)
        http.should_exit = True
        await http_task
    finally:
        await outbound.close(drain=drain)
        await client.close()
        if sim is not None:
            await sim.stop()
        with contextlib.suppress(Exception):
            registry.close()
        await database.close()
