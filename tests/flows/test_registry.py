"""FlowRegistry: publish, refuse, unchanged, rollback, DNIS routing, prerender, history."""

from __future__ import annotations

from typing import Any

import pytest
from flow_sources import flow

from coreswitch.flows import (
    FlowRegistry,
    LocalNotifier,
    PublishStatus,
    Refusal,
    UnknownFlow,
    UnknownVersion,
)
from coreswitch.store import Database, audit
from dsl import Environment


async def _audit(database: Database) -> list[tuple[str, str, str, dict[str, Any]]]:
    rows = await database.run(audit.entries)
    return [(r.who, r.action, r.subject, r.detail) for r in rows]


async def test_publish_makes_a_version_live(registry: FlowRegistry, database: Database) -> None:
    result = await registry.publish("demo", flow(), "alice", note="first")
    assert result.status is PublishStatus.PUBLISHED
    assert (result.version, result.previous_version) == (1, None)
    assert result.content_hash is not None
    assert result.content_hash.startswith("sha256:")
    live = registry.resolve("95598")
    assert live is not None
    assert (live.name, live.version, live.content_hash) == ("demo", 1, result.content_hash)
    assert registry.resolve("4000") is live
    assert registry.resolve("12345") is None
    assert live.ir["name"] == "demo"
    assert [f.name for f in registry.flows()] == ["demo"]
    [row] = await _audit(database)
    assert row[:3] == ("alice", "flow.publish", "flow:demo")
    assert row[3]["version"] == 1
    assert row[3]["note"] == "first"
    [info] = await registry.versions("demo")
    assert (info.version, info.published_by, info.note, info.live) == (1, "alice", "first", True)


async def test_a_flow_with_errors_is_refused_and_the_live_version_stays(
        registry: FlowRegistry, database: Database) -> None:
    await registry.publish("demo", flow(), "alice")
    result = await registry.publish("demo", flow(tag="v2", broken=True), "bob")
    assert result.status is PublishStatus.REFUSED
    assert result.refusal is Refusal.CHECKER
    assert not result.ok
    assert [d.code for d in result.errors] == ["E201"]
    assert "live version 1 stays" in result.message
    assert result.version == 1
    [text] = result.rendered()
    assert text.startswith("demo.flow:11:")
    assert "error[E201]" in text
    assert "^" in text
    live = registry.resolve("95598")
    assert live is not None
    assert live.version == 1
    assert len(await registry.versions("demo")) == 1
    actions = [(who, action) for who, action, _, _ in await _audit(database)]
    assert actions == [("alice", "flow.publish"), ("bob", "flow.refused")]
    detail = (await _audit(database))[-1][3]
    assert detail["refusal"] == "checker"
    assert detail["errors"][0]["code"] == "E201"


async def test_the_same_content_is_reported_unchanged(registry: FlowRegistry) -> None:
    first = await registry.publish("demo", flow(), "alice")
    again = await registry.publish("demo", flow(comment="only a comment differs"), "bob")
    assert again.status is PublishStatus.UNCHANGED
    assert again.ok
    assert (again.version, again.content_hash) == (1, first.content_hash)
    assert len(await registry.versions("demo")) == 1


async def test_a_source_declaring_another_name_is_refused(registry: FlowRegistry) -> None:
    result = await registry.publish("other", flow("demo"), "alice")
    assert result.refusal is Refusal.NAME
    assert "declares flow 'demo', not 'other'" in result.message
    assert registry.flows() == ()


async def test_rollback_to_any_earlier_version(registry: FlowRegistry,
                                               database: Database) -> None:
    for tag in ("v1", "v2", "v3"):
        await registry.publish("demo", flow(tag=tag), "alice")
    result = await registry.rollback("demo", 1, "carol")
    assert result.status is PublishStatus.ROLLED_BACK
    assert (result.version, result.previous_version) == (1, 3)
    live = registry.resolve("95598")
    assert live is not None
    assert (live.version, live.ir["version"]) == (1, "v1")
    assert [v.live for v in await registry.versions("demo")] == [True, False, False]
    again = await registry.rollback("demo", 1, "carol")
    assert again.status is PublishStatus.UNCHANGED
    forward = await registry.rollback("demo", 3, "carol")
    assert forward.status is PublishStatus.ROLLED_BACK
    assert registry.resolve("4000") is not None
    rows = await _audit(database)
    assert [a for _, a, _, _ in rows][-2:] == ["flow.rollback", "flow.rollback"]
    assert rows[-2][3] == {"version": 1, "content_hash": live.content_hash,
                           "previous_version": 3}
    # publishing the content of an old version again makes a new version
    republished = await registry.publish("demo", flow(tag="v1"), "alice")
    assert republished.version == 4


async def test_rollback_to_unknown_flows_and_versions(registry: FlowRegistry) -> None:
    await registry.publish("demo", flow(), "alice")
    with pytest.raises(UnknownVersion, match="no version 7 \\(versions 1 to 1\\)"):
        await registry.rollback("demo", 7, "carol")
    with pytest.raises(UnknownFlow, match="no flow named 'ghost'"):
        await registry.rollback("ghost", 1, "carol")
    with pytest.raises(UnknownFlow):
        await registry.versions("ghost")


async def test_dnis_claimed_by_two_flows_is_refused(registry: FlowRegistry,
                                                    database: Database) -> None:
    await registry.publish("a", flow("a", dnis=("95598", "1")), "alice")
    result = await registry.publish("b", flow("b", dnis=("2", "95598")), "bob")
    assert result.refusal is Refusal.DNIS
    assert "DNIS 95598 is claimed by flow 'a' and by flow 'b'" in result.message
    assert registry.get("b") is None
    assert registry.resolve("2") is None
    assert (await _audit(database))[-1][3]["refusal"] == "dnis"


async def test_configured_routes_win_over_headers(database: Database) -> None:
    registry = FlowRegistry(database, Environment, LocalNotifier(),
                            routes={"95598": "b", "7777": "a", "8888": "missing"})
    await registry.publish("a", flow("a", dnis=("95598", "1")), "alice")
    assert registry.resolve("95598") is None  # routed to b, which is not published yet
    result = await registry.publish("b", flow("b", dnis=("95598",)), "bob")
    assert result.status is PublishStatus.PUBLISHED
    routed = {d: (f.name if f else None) for d in ("95598", "1", "7777", "8888")
              for f in [registry.resolve(d)]}
    assert routed == {"95598": "b", "1": "a", "7777": "a", "8888": None}
    assert dict(registry.table.dangling) == {"8888": "missing"}


async def test_prerender_runs_before_the_swap_and_failure_refuses(database: Database) -> None:
    seen: list[tuple[str, object]] = []
    fail = False

    async def prerender(ir: dict[str, Any]) -> None:
        seen.append((ir["version"], registry.resolve("95598")))
        if fail:
            raise OSError("espeak-ng not found")

    registry = FlowRegistry(database, Environment, LocalNotifier(), prerender)
    await registry.publish("demo", flow(), "alice")
    assert seen == [("v1", None)]  # not live while rendering
    fail = True
    result = await registry.publish("demo", flow(tag="v2"), "alice")
    assert result.refusal is Refusal.PRERENDER
    assert "espeak-ng not found" in result.message
    live = registry.resolve("95598")
    assert live is not None
    assert live.version == 1
    assert len(await registry.versions("demo")) == 1


async def test_a_call_keeps_the_version_it_started_with(registry: FlowRegistry) -> None:
    await registry.publish("demo", flow(greeting="旧"), "alice")
    call = registry.resolve("95598")
    assert call is not None
    await registry.publish("demo", flow(greeting="新"), "alice")
    assert call.version == 1
    assert "旧" in str(call.ir["states"])
    new = registry.resolve("95598")
    assert new is not None
    assert new.version == 2
    assert "新" in str(new.ir["states"])


async def test_validate_does_not_publish(registry: FlowRegistry) -> None:
    good = await registry.validate(flow())
    assert good.ok
    assert good.name == "demo"
    bad = await registry.validate(flow(broken=True), filename="x.flow")
    assert not bad.ok
    assert bad.to_json()["rendered"].startswith("x.flow:11:")
    assert registry.flows() == ()


async def test_diff_and_version_source(registry: FlowRegistry) -> None:
    await registry.publish("demo", flow(greeting="旧"), "alice")
    await registry.publish("demo", flow(greeting="新"), "alice")
    diff = await registry.diff("demo", 1, 2)
    assert diff.splitlines()[:2] == ["--- demo@1", "+++ demo@2"]
    assert '-  say "旧"' in diff.splitlines()
    assert '+  say "新"' in diff.splitlines()
    assert await registry.diff("demo", 2, 2) == ""
    v1 = await registry.version("demo", 1)
    assert v1.source == flow(greeting="旧")
    with pytest.raises(UnknownVersion):
        await registry.diff("demo", 1, 3)
