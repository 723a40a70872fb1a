"""The admin API over a real registry: auth, list, publish (200/422), rollback, diff, healthz."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from http_helpers import flow, make_client

from coreswitch.flows import FlowRegistry
from coreswitch.http import create_app

USER = {"X-Coreswitch-User": "alice"}


async def _publish(client: httpx.AsyncClient, name: str, source: str, **kw: Any) -> Any:
    return await client.post(f"/api/flows/{name}/publish", content=source.encode(),
                       headers={"Content-Type": "text/plain; charset=utf-8", **USER}, **kw)


async def test_healthz_needs_no_token(registry: FlowRegistry) -> None:
    async with make_client(create_app(registry, token="t")) as client:
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json()["status"] == "ok"
        assert response.json()["version"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "Basic czNjcmV0LXRva2Vu"},
                                     {"Authorization": "Bearer "}])
async def test_the_api_refuses_requests_without_the_token(
        registry: FlowRegistry, headers: dict[str, str]) -> None:
    async with make_client(create_app(registry, token="s3cret-token")) as client:
        for method, path in [("GET", "/api/flows"), ("POST", "/api/flows/demo/publish"),
                             ("GET", "/api/nonexistent")]:
            response = await client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert "token" in response.json()["error"]
        assert registry.flows() == ()


async def test_an_empty_configured_token_makes_a_random_one_and_logs_it(
        registry: FlowRegistry, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="coreswitch.http"):
        app = create_app(registry, token="")
    token = app.state.admin_token
    assert len(token) >= 32
    assert [r.getMessage().count(token) for r in caplog.records] == [1]
    async with make_client(app) as client:
        assert (await client.get("/api/flows")).status_code == 401
        authorised = await client.get("/api/flows", headers={"Authorization": f"Bearer {token}"})
        assert authorised.status_code == 200
        assert create_app(registry, token="").state.admin_token != token


async def test_publish_list_versions(client: httpx.AsyncClient) -> None:
    response = await _publish(client, "demo", flow(), params={"note": "首个版本"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["version"], body["diagnostics"]) == ("published", 1, [])
    assert body["content_hash"].startswith("sha256:")
    listed = (await client.get("/api/flows")).json()
    assert listed["flows"] == [{"name": "demo", "version": 1, "content_hash": body["content_hash"],
                                "title": "demo", "dnis": ["4000", "95598"]}]
    assert listed["routes"] == {"4000": "demo", "95598": "demo"}
    versions = (await client.get("/api/flows/demo/versions")).json()["versions"]
    assert [(v["version"], v["published_by"], v["note"], v["live"]) for v in versions] == [
        (1, "alice", "首个版本", True)]
    one = (await client.get("/api/flows/demo/versions/1")).json()
    assert one["source"] == flow()
    again = await _publish(client, "demo", flow())
    assert (again.status_code, again.json()["status"]) == (200, "unchanged")


async def test_publish_with_errors_is_422_with_diagnostics(client: httpx.AsyncClient) -> None:
    await _publish(client, "demo", flow())
    response = await _publish(client, "demo", flow(tag="v2", broken=True),
                        params={"filename": "flows/demo.flow"})
    assert response.status_code == 422
    body = response.json()
    assert (body["status"], body["refusal"], body["version"]) == ("refused", "checker", 1)
    [diag] = body["diagnostics"]
    assert (diag["code"], diag["severity"], diag["line"]) == ("E201", "error", 11)
    assert diag["rendered"].startswith("flows/demo.flow:11:")
    assert body["rendered"] == diag["rendered"]
    assert "live version 1 stays" in body["message"]


async def test_publish_accepts_json_and_refuses_bad_bodies(client: httpx.AsyncClient) -> None:
    ok = await client.post("/api/flows/demo/publish", json={"source": flow(), "note": "n"})
    assert ok.status_code == 200
    versions = (await client.get("/api/flows/demo/versions")).json()["versions"]
    assert versions[0]["published_by"] == "api"
    bad_json = await client.post("/api/flows/demo/publish", content=b"{",
                           headers={"Content-Type": "application/json"})
    assert (bad_json.status_code, bad_json.json()["error"]) == (400, "the body is not valid JSON")
    not_utf8 = await client.post("/api/flows/demo/publish", content=b"\xff\xfe")
    assert not_utf8.status_code == 400
    assert "UTF-8" in not_utf8.json()["error"]
    huge = await client.post("/api/flows/demo/publish", content=b"#" * ((1 << 20) + 1))
    assert huge.status_code == 413


async def test_validate_does_not_publish(client: httpx.AsyncClient) -> None:
    good = (await client.post("/api/flows/demo/validate", content=flow().encode())).json()
    assert (good["ok"], good["name"]) == (True, "demo")
    bad = (await client.post("/api/flows/demo/validate", content=flow(broken=True).encode())).json()
    assert bad["ok"] is False
    assert bad["diagnostics"][0]["code"] == "E201"
    assert (await client.get("/api/flows")).json()["flows"] == []


async def test_rollback(client: httpx.AsyncClient) -> None:
    await _publish(client, "demo", flow(tag="v1"))
    await _publish(client, "demo", flow(tag="v2"))
    response = await client.post("/api/flows/demo/rollback", json={"version": 1}, headers=USER)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["version"]) == ("rolled_back", 1)
    assert (await client.get("/api/flows")).json()["flows"][0]["version"] == 1
    missing = await client.post("/api/flows/demo/rollback", json={"version": 5})
    assert missing.status_code == 404
    assert "no version 5" in missing.json()["error"]
    assert (await client.post("/api/flows/ghost/rollback", json={"version": 1})).status_code == 404
    for body in ({}, {"version": "1"}, {"version": 0}, {"version": True}, [1]):
        bad = await client.post("/api/flows/demo/rollback", json=body)
        assert bad.status_code == 400, body
        assert "version" in bad.json()["error"]


async def test_diff(client: httpx.AsyncClient) -> None:
    await _publish(client, "demo", flow(greeting="旧"))
    await _publish(client, "demo", flow(greeting="新"))
    body = (await client.get("/api/flows/demo/diff", params={"a": 1, "b": 2})).json()
    assert body["diff"].startswith("--- demo@1\n+++ demo@2\n")
    assert '+  say "新"' in body["diff"]
    assert (await client.get("/api/flows/demo/diff", params={"a": 1})).status_code == 400
    assert (await client.get("/api/flows/demo/diff", params={"a": 1, "b": 9})).status_code == 404


async def test_unknown_flow_versions_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/flows/ghost/versions")
    assert response.status_code == 404
    assert response.json() == {"error": "no flow named 'ghost' has been published"}


async def test_an_unexpected_failure_is_a_json_500(registry: FlowRegistry,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(name: str) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(registry, "versions", broken)
    app = create_app(registry, token="t")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin",
                                 headers={"Authorization": "Bearer t"}) as client:
        response = await client.get("/api/flows/demo/versions")
    assert response.status_code == 500
    assert response.json() == {"error": "internal error: RuntimeError; see the server log"}
