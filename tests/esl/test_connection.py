"""Connection, peer and inbound-client behaviour over real TCP against a scripted switch.

Reply FIFO (timeouts and cancellations keep their slot), ConnectionLost, bgapi completion by
BACKGROUND_JOB, execute completion by CHANNEL_EXECUTE_COMPLETE and its failure modes, filters,
rude rejection, wrong password, reconnect with re-subscription and reconciliation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from coreswitch.esl import (
    AccessDenied,
    AuthenticationError,
    Backoff,
    ChannelGone,
    CommandError,
    ConnectionLost,
    Event,
    InboundClient,
    Reconciliation,
)

from .fakeswitch import FakeSwitch, SwitchConn

A = "aaaaaaaa-0000-4000-8000-000000000001"
B = "bbbbbbbb-0000-4000-8000-000000000002"


@pytest.fixture
async def switch() -> AsyncIterator[FakeSwitch]:
    async with FakeSwitch() as sw:
        yield sw


async def connect(switch: FakeSwitch, **kwargs: object) -> tuple[InboundClient, SwitchConn]:
    options: dict[str, object] = {"reconnect": False, "command_timeout": 5.0}
    options.update(kwargs)
    client = InboundClient(port=switch.port, **options)  # type: ignore[arg-type]
    await asyncio.wait_for(client.start(), 5)
    return client, switch.connections[-1]


class Marker:
    """Lets a test wait until the client has routed everything the switch sent before a marker."""

    def __init__(self, client: InboundClient) -> None:
        self.seen: dict[str, asyncio.Event] = {}
        client.subscribe(self._on_event, ["CUSTOM"])

    def _on_event(self, event: Event) -> None:
        self.seen.setdefault(event.get("Marker", ""), asyncio.Event()).set()

    async def passed(self, conn: SwitchConn, name: str) -> None:
        conn.event({"Event-Name": "CUSTOM", "Marker": name})
        await asyncio.wait_for(self.seen.setdefault(name, asyncio.Event()).wait(), 5)


def complete(conn: SwitchConn, channel: str, app_uuid: str, **extra: str) -> None:
    conn.event({"Event-Name": "CHANNEL_EXECUTE_COMPLETE", "Unique-ID": channel,
                "Application": "playback", "Application-UUID": app_uuid,
                "Application-Response": "FILE PLAYED", **extra})


# -- the reply FIFO -------------------------------------------------------------------------------

async def test_a_timed_out_command_keeps_its_slot(switch: FakeSwitch) -> None:
    client, conn = await connect(switch)
    try:
        first = asyncio.create_task(client.api("first", timeout=0.05))
        assert (await conn.next_command()).line == "api first"
        second = asyncio.create_task(client.api("second"))
        assert (await conn.next_command()).line == "api second"
        with pytest.raises(TimeoutError, match="api first"):
            await first
        conn.api("late reply to first")
        conn.api("reply to second")
        assert await asyncio.wait_for(second, 5) == "reply to second"
        third = asyncio.create_task(client.api("third"))
        await conn.next_command()
        conn.api("reply to third")
        assert await asyncio.wait_for(third, 5) == "reply to third"
    finally:
        await client.close()


async def test_a_later_command_with_a_shorter_timeout_times_out_on_time(
        switch: FakeSwitch) -> None:
    # Reply deadlines share one timer per connection: a shorter one re-arms it earlier.
    client, conn = await connect(switch)
    try:
        first = asyncio.create_task(client.api("first", timeout=30))
        await conn.next_command()
        second = asyncio.create_task(client.api("second", timeout=0.05))
        await conn.next_command()
        with pytest.raises(TimeoutError, match="api second"):
            await asyncio.wait_for(second, 5)
        assert not first.done()
        conn.api("reply to first")
        conn.api("late reply to second")
        assert await asyncio.wait_for(first, 5) == "reply to first"
    finally:
        await client.close()


async def test_a_cancelled_command_keeps_its_slot(switch: FakeSwitch) -> None:
    client, conn = await connect(switch)
    try:
        first = asyncio.create_task(client.api("first"))
        await conn.next_command()
        second = asyncio.create_task(client.api("second"))
        await conn.next_command()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        conn.api("reply to first")
        conn.api("reply to second")
        assert await asyncio.wait_for(second, 5) == "reply to second"
    finally:
        await client.close()


async def test_in_flight_commands_fail_with_connection_lost(switch: FakeSwitch) -> None:
    client, conn = await connect(switch)
    try:
        pending = [asyncio.create_task(client.api(f"cmd{i}")) for i in range(3)]
        for _ in pending:
            await conn.next_command()
        conn.abort()
        for task in pending:
            with pytest.raises(ConnectionLost):
                await asyncio.wait_for(task, 5)
        with pytest.raises(ConnectionLost):
            await client.api("status")
    finally:
        await client.close()


async def test_api_error_reply_and_check_false(switch: FakeSwitch) -> None:
    client, conn = await connect(switch)
    try:
        failing = asyncio.create_task(client.api("nosuchcommand"))
        await conn.next_command()
        conn.api("-ERR nosuchcommand Command not found!\n")
        with pytest.raises(CommandError) as info:
            await asyncio.wait_for(failing, 5)
        assert info.value.reply == "-ERR nosuchcommand Command not found!\n"
        unchecked = asyncio.create_task(client.api("nosuchcommand", check=False))
        await conn.next_command()
        conn.api("-ERR nosuchcommand Command not found!\n")
        assert (await asyncio.wait_for(unchecked, 5)).startswith("-ERR")
    finally:
        await client.close()


async def test_api_usage_reply_is_an_error(switch: FakeSwitch) -> None:
    """FreeSWITCH answers bad arguments with ``-USAGE: <syntax>`` (mod_commands), not ``-ERR``."""
    client, conn = await connect(switch)
    try:
        failing = asyncio.create_task(client.api("fsctl"))
        await conn.next_command()
        conn.api("-USAGE: [hupall|pause|resume|shutdown]\n")
        with pytest.raises(CommandError) as info:
            await asyncio.wait_for(failing, 5)
        assert info.value.reply == "-USAGE: [hupall|pause|resume|shutdown]\n"
        unchecked = asyncio.create_task(client.api("fsctl", check=False))
        await conn.next_command()
        conn.api("-USAGE: [hupall|pause|resume|shutdown]\n")
        assert (await asyncio.wait_for(unchecked, 5)).startswith("-USAGE")
        job = asyncio.create_task(client.bgapi("uuid_kill"))
        job_uuid = (await conn.next_command()).header("Job-UUID")
        assert job_uuid
        conn.reply(f"+OK Job-UUID: {job_uuid}")
        conn.event({"Event-Name": "BACKGROUND_JOB", "Job-UUID": job_uuid},
                   b"-USAGE: <uuid> [cause]\n")
        with pytest.raises(CommandError, match="USAGE"):
            await asyncio.wait_for(job, 5)
    finally:
        await client.close()


# -- bgapi ----------------------------------------------------------------------------------------

async def test_bgapi_result_arrives_as_background_job(switch: FakeSwitch) -> None:
    client, conn = await connect(switch)
    try:
        job = asyncio.create_task(client.bgapi("originate", "loopback/9201/default &park"))
        command = await conn.next_command()
        assert command.line == "bgapi originate loopback/9201/default &park"
        job_uuid = command.header("Job-UUID")
        assert job_uuid
        conn.reply(f"+OK Job-UUID: {job_uuid}")
        # another job's result must not complete this one
        conn.event({"Event-Name": "BACKGROUND_JOB", "Job-UUID": "someone-else"}, b"+OK other\n")
        conn.event({"Event-Name": "BACKGROUND_JOB", "Job-UUID": job_uuid,
                    "Job-Command": "originate"}, f"+OK {A}\n".encode())
        assert await asyncio.wait_for(job, 5) == f"+OK {A}\n"

        failing = asyncio.create_task(client.bgapi("originate", "error/user_busy"))
        job_uuid = (await conn.next_command()).header("Job-UUID")
        assert job_uuid
        conn.reply(f"+OK Job-UUID: {job_uuid}")
        conn.event({"Event-Name": "BACKGROUND_JOB", "Job-UUID": job_uuid},
                   b"-ERR USER_BUSY\n")
        with pytest.raises(CommandError, match="USER_BUSY"):
            await asyncio.wait_for(failing, 5)
    finally:
        await client.close()


async def test_bgapi_rejected_by_the_switch(switch: FakeSwitch) -> None:
    client, conn = await connect(switch)
    try:
        job = asyncio.create_task(client.bgapi("originate", "x"))
        await conn.next_command()
        conn.reply("-ERR command not found")
        with pytest.raises(CommandError, match="command not found"):
            await asyncio.wait_for(job, 5)
    finally:
        await client.close()


async def test_filters_keep_background_job(switch: FakeSwitch) -> None:
    client, conn = await connect(switch)
    try:
        await client.filter("Unique-ID", A)
        await client.filter("Unique-ID", B)
        await client.filter_delete("Unique-ID", B)
    finally:
        await client.close()
    lines = [c.line for c in conn.commands]
    assert lines[lines.index("filter Event-Name BACKGROUND_JOB"):] == [
        "filter Event-Name BACKGROUND_JOB", f"filter Unique-ID {A}", f"filter Unique-ID {B}",
        f"filter delete Unique-ID {B}", "exit"]


# -- execute --------------------------------------------------------------------------------------

async def start_execute(client: InboundClient, conn: SwitchConn, channel: str = A,
                        **kwargs: object) -> tuple[asyncio.Task[Event], str]:
    task = asyncio.create_task(client.execute(channel, "playback", "/tmp/a.wav",
                                              **kwargs))  # type: ignore[arg-type]
    command = await conn.next_command()
    assert command.line == f"sendmsg {channel}"
    assert command.header("execute-app-name") == "playback"
    event_uuid = command.header("Event-UUID")
    assert event_uuid
    conn.reply("+OK")
    return task, event_uuid


async def test_execute_completes_on_the_matching_application_uuid_only(switch: FakeSwitch) -> None:
    client, conn = await connect(switch)
    marker = Marker(client)
    try:
        task, event_uuid = await start_execute(client, conn)
        complete(conn, A, "another-application-uuid")
        complete(conn, B, event_uuid)  # right Application-UUID, wrong channel
        await marker.passed(conn, "after-wrong-completions")
        assert not task.done()
        complete(conn, A, event_uuid)
        done = await asyncio.wait_for(task, 5)
        assert done["Application-UUID"] == event_uuid
        assert done["Application-Response"] == "FILE PLAYED"
    finally:
        await client.close()


async def test_an_execute_interrupted_by_hangup_still_gets_its_completion(
        switch: FakeSwitch) -> None:
    client, conn = await connect(switch)
    marker = Marker(client)
    try:
        task, event_uuid = await start_execute(client, conn)
        conn.event({"Event-Name": "CHANNEL_HANGUP", "Unique-ID": A,
                    "Hangup-Cause": "NORMAL_CLEARING"})
        await marker.passed(conn, "after-hangup")
        assert not task.done()
        assert client.hangup_cause(A) == "NORMAL_CLEARING"
        complete(conn, A, event_uuid, **{"Application-Response": "FILE NOT FOUND"})
        conn.event({"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": A,
                    "Hangup-Cause": "NORMAL_CLEARING"})
        done = await asyncio.wait_for(task, 5)
        assert done["Application-Response"] == "FILE NOT FOUND"
    finally:
        await client.close()


async def test_execute_fails_with_channel_gone_on_hangup_complete(switch: FakeSwitch) -> None:
    client, conn = await connect(switch)
    marker = Marker(client)
    try:
        task, _ = await start_execute(client, conn)
        conn.event({"Event-Name": "CHANNEL_HANGUP", "Unique-ID": A,
                    "Hangup-Cause": "USER_BUSY"})
        conn.event({"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": A,
                    "Hangup-Cause": "USER_BUSY"})
        with pytest.raises(ChannelGone) as info:
            await asyncio.wait_for(task, 5)
        assert info.value.uuid == A
        assert info.value.cause == "USER_BUSY"
        # A later execute on the dead channel fails at once, without a command on the wire.
        sent = len(conn.commands)
        with pytest.raises(ChannelGone):
            await client.execute(A, "playback", "x")
        assert len(conn.commands) == sent
        conn.event({"Event-Name": "CHANNEL_DESTROY", "Unique-ID": A,
                    "Hangup-Cause": "USER_BUSY"})
        await marker.passed(conn, "after-destroy")
        assert client.hangup_cause(A) is None
    finally:
        await client.close()


async def test_execute_timeout_and_a_late_completion(switch: FakeSwitch) -> None:
    client, conn = await connect(switch)
    marker = Marker(client)
    try:
        task, event_uuid = await start_execute(client, conn, timeout=0.05)
        with pytest.raises(TimeoutError, match="playback"):
            await asyncio.wait_for(task, 5)
        complete(conn, A, event_uuid)  # too late: ignored, nothing breaks
        await marker.passed(conn, "after-late-completion")
        again, event_uuid = await start_execute(client, conn)
        complete(conn, A, event_uuid)
        assert (await asyncio.wait_for(again, 5))["Application-UUID"] == event_uuid
    finally:
        await client.close()


async def test_execute_fails_with_connection_lost_on_disconnect(switch: FakeSwitch) -> None:
    client, conn = await connect(switch)
    try:
        task, _ = await start_execute(client, conn)
        job = asyncio.create_task(client.bgapi("status"))
        await conn.next_command()
        conn.abort()
        with pytest.raises(ConnectionLost) as info:
            await asyncio.wait_for(task, 5)
        assert not isinstance(info.value, ChannelGone)
        with pytest.raises(ConnectionLost):
            await asyncio.wait_for(job, 5)
    finally:
        await client.close()


async def test_execute_refused_by_the_switch(switch: FakeSwitch) -> None:
    client, conn = await connect(switch)
    try:
        task = asyncio.create_task(client.execute(A, "playback", "x"))
        await conn.next_command()
        conn.reply(f"-ERR invalid session id [{A}]")
        with pytest.raises(CommandError, match="invalid session id"):
            await asyncio.wait_for(task, 5)
    finally:
        await client.close()


async def test_execute_after_channel_destroy_is_channel_gone(switch: FakeSwitch) -> None:
    client, conn = await connect(switch)
    marker = Marker(client)
    try:
        conn.event({"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": A,
                    "Hangup-Cause": "NO_ANSWER"})
        conn.event({"Event-Name": "CHANNEL_DESTROY", "Unique-ID": A, "Hangup-Cause": "NO_ANSWER"})
        await marker.passed(conn, "after-destroy")
        task = asyncio.create_task(client.execute(A, "playback", "x"))
        await conn.next_command()
        conn.reply(f"-ERR invalid session id [{A}]")
        with pytest.raises(ChannelGone) as info:
            await asyncio.wait_for(task, 5)
        assert info.value.uuid == A
        assert info.value.cause == "NO_ANSWER"
        # Still the switch's refusal for callers that handle CommandError.
        assert isinstance(info.value, CommandError)
        assert info.value.reply == f"-ERR invalid session id [{A}]"
    finally:
        await client.close()


async def test_execute_refused_right_after_a_destroy_still_queued_is_channel_gone(
        switch: FakeSwitch) -> None:
    """The refusal overtakes the CHANNEL_DESTROY sent before it (events wait for the router)."""
    client, conn = await connect(switch)
    block = asyncio.Event()
    client.dispatcher.lane_limit = 1
    client.subscribe(lambda e: block.wait() if e.name == "CUSTOM" else None)

    waiting = asyncio.Event()
    routed = client.dispatcher.routed

    async def watched_routed() -> None:
        waiting.set()
        await routed()

    client.dispatcher.routed = watched_routed  # type: ignore[method-assign]

    try:
        for _ in range(3):  # B's lane fills up: the router stops behind it
            conn.event({"Event-Name": "CUSTOM", "Unique-ID": B})
        task = asyncio.create_task(client.execute(A, "playback", "x"))
        await conn.next_command()
        conn.event({"Event-Name": "CHANNEL_DESTROY", "Unique-ID": A,
                    "Hangup-Cause": "ORIGINATOR_CANCEL"})
        conn.reply(f"-ERR invalid session id [{A}]")
        await asyncio.wait_for(waiting.wait(), 5)  # the refusal waits for the router
        assert not task.done()
        block.set()
        with pytest.raises(ChannelGone) as info:
            await asyncio.wait_for(task, 5)
        assert info.value.cause == "ORIGINATOR_CANCEL"
    finally:
        block.set()
        await client.close()


async def test_execute_has_a_default_timeout(switch: FakeSwitch) -> None:
    """Event filters that leave a channel out mean its completion never comes: fail, clearly."""
    client, conn = await connect(switch, execute_timeout=0.05)
    try:
        task, _ = await start_execute(client, conn)  # accepted, never completed
        with pytest.raises(TimeoutError, match=r"no CHANNEL_EXECUTE_COMPLETE within 0\.05 s"):
            await asyncio.wait_for(task, 5)
        assert client.execute_timeout == 0.05
        assert InboundClient().execute_timeout == 4 * 3600
    finally:
        await client.close()


async def test_execute_without_timeout_reports_a_missing_reply_as_timeout(
        switch: FakeSwitch) -> None:
    client, conn = await connect(switch, command_timeout=0.05)
    try:
        task = asyncio.create_task(client.execute(A, "playback", "x"))
        await conn.next_command()  # never answered
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(task, 5)
    finally:
        await client.close()


# -- connecting -----------------------------------------------------------------------------------

async def test_rude_rejection_is_access_denied() -> None:
    body = b"Access Denied, go away.\n"
    greeting = b"Content-Type: text/rude-rejection\nContent-Length: %d\n\n" % len(body) + body
    async with FakeSwitch(greeting=greeting) as sw:
        client = InboundClient(port=sw.port, reconnect=True)
        try:
            with pytest.raises(AccessDenied, match="Access Denied, go away"):
                await asyncio.wait_for(client.start(), 5)
        finally:
            await client.close()
        assert len(sw.connections) == 1
        assert sw.commands == []


async def test_wrong_password_never_retries() -> None:
    async with FakeSwitch(password="secret") as sw:
        client = InboundClient(port=sw.port, password="wrong", reconnect=True,
                               backoff=Backoff(base=0.001, cap=0.001))
        try:
            with pytest.raises(AuthenticationError):
                await asyncio.wait_for(client.start(), 5)
        finally:
            await client.close()
        assert [c.line for c in sw.commands] == ["auth wrong"]
        assert len(sw.connections) == 1


async def test_a_password_refused_on_reconnect_stops_the_reconnect_loop() -> None:
    async with FakeSwitch() as sw:
        client = InboundClient(port=sw.port, backoff=Backoff(base=0.001, cap=0.001))
        try:
            await asyncio.wait_for(client.start(), 5)
            first = await sw.connection()
            sw.accept_auth = False
            first.abort()
            second = await sw.connection()
            assert second is not first
            # The supervisor gives up after the refusal: wait for it, then count connections.
            supervisor = client._supervisor
            assert supervisor is not None
            await asyncio.wait_for(asyncio.shield(supervisor), 5)
            assert len(sw.connections) == 2
            assert not client.connected.is_set()
        finally:
            await client.close()


async def test_reconnect_resubscribes_refilters_and_reconciles() -> None:
    reports: list[Reconciliation] = []
    reconciled = asyncio.Event()

    def on_reconcile(report: Reconciliation) -> None:
        reports.append(report)
        reconciled.set()

    async with FakeSwitch() as sw:
        client = InboundClient(port=sw.port, event_format="json",
                               backoff=Backoff(base=0.001, cap=0.001), on_reconcile=on_reconcile)
        marker = Marker(client)
        try:
            await asyncio.wait_for(client.start(), 5)
            first = await sw.connection()
            await client.filter("Unique-ID", A)
            for channel in (A, B):
                first.event({"Event-Name": "CHANNEL_CREATE", "Unique-ID": channel})
            await marker.passed(first, "channels-known")
            assert client.dispatcher.channels == {A, B}
            reconciled.clear()
            sw.show_channels = (b'{"row_count":1,"rows":[{"uuid":"%s","name":"loopback/1-a",'
                                b'"state":"CS_EXECUTE"}]}\n' % B.encode())
            first.abort()
            second = await sw.connection()
            await asyncio.wait_for(reconciled.wait(), 5)
            assert client.dispatcher.channels == {B}  # A vanished: its lane was dropped
            assert client.connected.is_set()
            assert client.connections == 2
        finally:
            await client.close()
    assert [c.line for c in second.commands] == [
        "auth ClueCon", "event json ALL", "filter Event-Name BACKGROUND_JOB",
        f"filter Unique-ID {A}", "api show channels as json", "exit"]
    first_report, second_report = reports
    assert not first_report.reconnect
    assert second_report.reconnect
    assert second_report.gone == frozenset({A})
    assert set(second_report.live) == {B}
    assert second_report.live[B]["name"] == "loopback/1-a"


async def test_an_unawaited_command_keeps_its_slot(switch: FakeSwitch) -> None:
    client, conn = await connect(switch)
    try:
        raw = client._conn
        assert raw is not None
        raw.write(b"api fire-and-forget\n\n")
        await conn.next_command()
        answered = asyncio.create_task(client.api("wanted"))
        await conn.next_command()
        conn.api("reply to fire-and-forget")
        conn.api("reply to wanted")
        assert await asyncio.wait_for(answered, 5) == "reply to wanted"
    finally:
        await client.close()


async def test_connection_demultiplexes_a_whole_real_capture() -> None:
    """The recorded inbound-plain bytes through a bare Connection: every frame to its place."""
    from coreswitch.esl import Frame, FrameParser
    from coreswitch.esl.connection import Connection

    from .captures import read_capture

    data = read_capture("inbound-plain.recv")
    expected = FrameParser().feed(data)
    events: list[Frame] = []
    logs: list[Frame] = []
    notices: list[Frame] = []
    noticed = asyncio.Event()
    lost = asyncio.Event()

    def on_notice(frame: Frame) -> None:
        notices.append(frame)
        noticed.set()

    async with FakeSwitch(greeting=data) as sw:
        conn = Connection(lambda f: events.append(f) is None, on_log=logs.append,
                          on_notice=on_notice, on_lost=lambda exc: lost.set())
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: conn, "127.0.0.1", sw.port)
        await asyncio.wait_for(conn.auth_request, 5)
        peer = await sw.connection()
        # the capture ends with the disconnect notice; then the switch hangs up
        await asyncio.wait_for(noticed.wait(), 5)
        peer.close()
        await asyncio.wait_for(lost.wait(), 5)
    assert events == [f for f in expected if f.content_type == "text/event-plain"]
    assert logs == [f for f in expected if f.content_type == "log/data"]
    assert [n.body for n in notices] == [expected[-1].body]
    assert isinstance(conn.error, ConnectionLost)
