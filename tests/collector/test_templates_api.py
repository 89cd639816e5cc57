"""/api/v1/templates and the agents' /api/v1/agent/config on SQLite and PostgreSQL: versions, ETag/304,
label matching and priority, staged rollout by host-name hash, rollback, audit, what agents report."""
from __future__ import annotations

import json
from typing import Any

import pytest

from checks.model import Status
from collector.templates.validate import TemplateError, parse_template
from tests.collector.factories import result
from tests.collector.templates_helpers import bucket, enroll, template


def poll(api: Any, token: str, etag: str | None = None) -> Any:
    headers = api.h(token)
    if etag:
        headers["If-None-Match"] = etag
    return api.client.get("/api/v1/agent/config", headers=headers)


def apply(api: Any, text: str, percent: int = 100, key: str | None = None) -> Any:
    body = json.dumps({"yaml": text, "percent": percent})  # ASCII escapes: a lone surrogate stays sendable
    return api.client.post("/api/v1/templates", content=body,
                           headers={**api.h(key or api.admin_key), "Content-Type": "application/json"})


def test_empty_config_has_a_stable_version_and_304(api: Any) -> None:
    r = poll(api, api.token)
    assert r.status_code == 200
    assert r.json()["checks"] == [] and r.json()["sources"] == {}
    etag = r.headers["etag"]
    assert etag == f'"{r.json()["version"]}"' and len(r.json()["version"]) <= 64
    assert poll(api, api.token2).headers["etag"] == etag  # the empty set is one version
    again = poll(api, api.token, etag)
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert poll(api, "xj-agent-not-a-token").status_code == 401
    assert api.client.get("/api/v1/agent/config").status_code == 401


def test_match_priority_and_etag_change(api: Any) -> None:
    before = poll(api, api.token).headers["etag"]
    assert apply(api, template()).json() == {"name": "voucher-base", "action": "apply", "version": 1,
                                             "previous_version": None, "percent": 100}
    # a second template for every host, lower priority, clashing on root-disk
    os_t = ("name: os-base\nmatch: {}\npriority: 0\nchecks:\n"
            "  - {name: root-disk, type: disk, system: os, interval: 5m, mounts: ['/', '/var']}\n"
            "  - {name: os-system, type: system, system: os}\n")
    assert apply(api, os_t).status_code == 200
    r = poll(api, api.token, before)  # the old ETag no longer matches
    assert r.status_code == 200
    body = r.json()
    assert body["sources"] == {"voucher-log": "voucher-base@v1", "root-disk": "voucher-base@v1",
                               "os-system": "os-base@v1"}
    disk = next(c for c in body["checks"] if c["name"] == "root-disk")
    assert disk["interval"] == "60s"  # the higher priority wins
    assert r.headers["etag"] == f'"{body["version"]}"'
    other = poll(api, api.token2).json()  # web02 is in 某县财政局: only os-base
    assert other["sources"] == {"root-disk": "os-base@v1", "os-system": "os-base@v1"}
    # the same text again changes nothing, and the version agents see stays
    assert apply(api, template()).json()["action"] == "none"
    assert poll(api, api.token, r.headers["etag"]).status_code == 304
    eff = api.get("/api/v1/hosts/web01/template-config")
    assert {c["name"]: c["source"] for c in eff["checks"]} == body["sources"]
    assert eff["version"] == body["version"]


def test_staged_rollout_is_stable_and_rolls_back(api: Any) -> None:
    tokens = {f"v{i:03d}.example": enroll(api.app, f"v{i:03d}.example") for i in range(120)}
    apply(api, template(interval="30s"))
    staged = apply(api, template(interval="45s"), percent=10).json()
    assert staged == {"name": "voucher-base", "action": "apply", "version": 2, "previous_version": 1, "percent": 10}

    def versions() -> dict[str, str]:
        return {h: poll(api, t).json()["sources"]["voucher-log"] for h, t in tokens.items()}

    seen = versions()
    expected = {h: "voucher-base@v2" if bucket(h) < 10 else "voucher-base@v1" for h in tokens}
    assert seen == expected
    assert 0 < sum(v.endswith("@v2") for v in seen.values()) < 40
    assert versions() == seen  # the same hosts on the next poll
    # a v3 while v2 is staged: the rest of the fleet keeps v1
    assert apply(api, template(interval="50s"), percent=10).json()["previous_version"] == 1
    assert api.client.put("/api/v1/templates/voucher-base/percent", json={"percent": 100},
                          headers=api.h(api.admin_key)).json()["percent"] == 100
    assert set(versions().values()) == {"voucher-base@v3"}
    back = api.client.post("/api/v1/templates/voucher-base/rollback", headers=api.h(api.admin_key))
    assert back.json() == {"name": "voucher-base", "action": "rollback", "version": 1, "previous_version": None,
                           "percent": 100}
    assert set(versions().values()) == {"voucher-base@v1"}
    again = api.client.post("/api/v1/templates/voucher-base/rollback", headers=api.h(api.admin_key))
    assert again.status_code == 409 and "没有上一个版本" in again.json()["detail"]["message"]
    d = api.get("/api/v1/templates/voucher-base")
    assert [(a["action"], a["from_version"], a["to_version"], a["percent"]) for a in d["audit"]] == [
        ("rollback", 3, 1, 100), ("percent", 1, 3, 100), ("apply", 1, 3, 10), ("apply", 1, 2, 10),
        ("apply", None, 1, 100)]
    assert all(a["actor"] == "admin" for a in d["audit"])
    rb = d["audit"][0]["diff"]
    assert "--- voucher-base@v3" in rb and "+++ voucher-base@v1" in rb and "-" in rb and "interval: 50s" in rb
    assert d["hosts_by_target"] == {"1": 121}  # 120 + web01 in 某市财政局


def test_reported_and_refused_versions(api: Any) -> None:
    apply(api, template())
    v1 = poll(api, api.token).json()["version"]
    apply(api, template(interval="45s"))
    v2 = poll(api, api.token).json()["version"]
    agent = {"host": "web01", "version": "t", "config_version": v1,
             "config_refused": {"version": v2, "error": "checks[0]: command 不在 central_allow 中\x00<b>"}}
    unknown = result("web01", "voucher-log", Status.UNKNOWN, seq=1)
    assert api.post_results({"agent": agent, "results": [unknown.to_dict()]}).status_code == 200
    d = api.get("/api/v1/templates/voucher-base")
    assert d["unknown_by_running"] == {"1": 1} and d["hosts"][0]["unknown"] == ["voucher-log"]
    assert d["hosts_by_running"] == {"1": 1} and d["hosts_by_target"] == {"2": 1}
    assert [(r["host"], r["refused"]) for r in d["refused"]] == [("web01", 2)]
    assert d["refused"][0]["refused_error"] == "checks[0]: command 不在 central_allow 中\ufffd<b>"
    eff = api.get("/api/v1/hosts/web01/template-config")
    assert (eff["reported_version"], eff["refused_version"]) == (v1, v2)
    # advisory: values that do not fit are ignored, the batch is still taken, what was stored stays
    bad = {"host": "web01", "config_version": "x" * 65, "config_refused": {"version": 5}}
    assert api.post_results({"agent": bad, "results": []}).status_code == 200
    assert api.get("/api/v1/hosts/web01/template-config")["reported_version"] == v1
    # null clears the refusal; an agent that says nothing leaves the stored values
    assert api.post_results({"agent": {"config_version": v2, "config_refused": None}, "results": []}).status_code == 200
    assert api.post_results({"agent": {"version": "t"}, "results": []}).status_code == 200
    eff = api.get("/api/v1/hosts/web01/template-config")
    assert (eff["reported_version"], eff["refused_version"], eff["refused_error"]) == (v2, "", "")
    assert api.get("/api/v1/templates/voucher-base")["hosts_by_running"] == {"2": 1}


def test_roles(api: Any) -> None:
    assert apply(api, template(), key=api.viewer_key).status_code == 403
    assert apply(api, template(), key=api.engineer_key).status_code == 403
    assert apply(api, template()).status_code == 200
    assert api.get("/api/v1/templates", api.viewer_key)["items"][0]["name"] == "voucher-base"
    assert api.get("/api/v1/templates/voucher-base", api.viewer_key)["version"] == 1
    assert api.client.post("/api/v1/templates/voucher-base/rollback",
                           headers=api.h(api.viewer_key)).status_code == 403
    assert api.client.get("/api/v1/templates/nope", headers=api.h(api.viewer_key)).status_code == 404


def test_refusals_are_clear_and_store_nothing(api: Any) -> None:
    cases = {
        "password": (template(extra="  - {name: seal-p12, type: cert, files: [/opt/seal/a.p12], password: s3cret}\n"),
                     "不能写密码或密钥的明文"),
        "url": (template(extra="  - {name: mq1, type: mq, source: rabbitmq_api, "
                               "url: 'http://monitor:pw@127.0.0.1:15672/api/queues'}\n"), "URL 中含有密码"),
        "env": (template(extra="  - {name: tlq, type: mq, source: tonglinkq, qcu: q1, env: {TLQ_PASSWORD: x}}\n"),
                "不能写密码或密钥的明文"),
        "nul": (template() + "# \x00\n", "NUL"),
        "script": (template(extra="  - {name: x, type: disk, mounts: ['<script>alert(1)</script>']}\n"), "<script>"),
        "huge": (template() + "#" * 270_000 + "\n", "模板过大"),
        "alias": ("name: a\nmatch: {}\nchecks: &c [{name: d, type: disk}]\nx: *c\n", "别名"),
        "check": (template(interval="soon"), "not a duration"),
        "type": (template(extra="  - {name: y, type: telnet}\n"), "检查项配置有误"),
        "yaml": ("name: [\n", "不是有效的 YAML"),
        "deep": ("checks: " + "[" * 20_000 + "]" * 20_000 + "\n", "嵌套层次过深"),
        "bigint": (template(extra="  - {name: d2, type: dirsize, path: /x, max_entries: 99999999999999999999999}\n"),
                   "超出 64 位整数范围"),
        "inf": (template(extra="  - {name: d3, type: dirsize, path: /x, warn: .inf}\n"),
                "(d3).warn: size out of range"),
    }
    for what, (text, words) in cases.items():
        r = apply(api, text)
        assert r.status_code == 422, what
        message = r.json()["detail"]["message"]
        assert words in message, (what, message)
    # JSON can spell a lone surrogate: the body's model refuses it, naming the field
    r = apply(api, template() + "# \ud800\n")
    assert r.status_code == 422 and r.json()["detail"]["errors"][0]["loc"] == ["body", "yaml"]
    with pytest.raises(TemplateError, match="第 7 行含有孤立的 UTF-16 代理项"):
        parse_template(template() + "# \ud800\n")
    assert api.get("/api/v1/templates")["items"] == []
    # a reference is what templates use
    ok = template(extra="  - {name: seal-p12, type: cert, files: [/opt/seal/a.p12], "
                        "password_file: /etc/xunjian/p12.pass}\n")
    assert apply(api, ok).status_code == 200
