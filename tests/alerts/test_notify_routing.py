"""Routing rules and the `notify:` config section: validation, matching, secret masking."""
from __future__ import annotations

import pytest
import yaml

from alerts.notify import Notification, build_notify, build_routes, mask_url
from alerts.notify.masking import scrub
from checks.options import ConfigError

CONFIG = """
channels:
  - {name: ops-mail, type: email, host: 127.0.0.1, port: 25, from: xunjian@example.cn, to: [ops@example.cn]}
  - {name: ding, type: dingtalk, url: "https://oapi.dingtalk.com/robot/send?access_token=a1b2c3d4e5", secret: SECf00ba4}
  - {name: feishu, type: feishu, url: "https://open.feishu.cn/open-apis/bot/v2/hook/9f8e7d6c", secret: fs-s3cret}
  - {name: wecom, type: wecom, key: wk-123456}
  - {name: hook, type: webhook, url: "https://itsm.example.cn/api/xunjian", token: bearer-9876, timeout: 5s}
routes:
  - {match: {unit: 某市财政局, min_severity: critical}, channels: [ding, ops-mail]}
  - {match: {system: 电子印章系统, kind: [ticket_opened, sla_breached]}, channels: [wecom], continue: true}
  - {match: {host: "mq-*"}, channels: [feishu]}
  - {channels: [ops-mail]}   # default
digest: {max_pending: 8}
"""


def n(**kw: object) -> Notification:
    values: dict = dict(kind="ticket_opened", title="t", severity="warning", unit="某县财政局", system="voucher")
    values.update(kw)
    return Notification(**values)


@pytest.fixture()
def notify():
    return build_notify(yaml.safe_load(CONFIG))


def test_channels_built_with_defaults(notify):
    assert list(notify.channels) == ["ops-mail", "ding", "feishu", "wecom", "hook"]
    assert notify.channels["ding"].rate_limit.limit == 20
    assert notify.channels["wecom"].rate_limit.limit == 20
    assert notify.channels["wecom"].options.url == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=wk-123456"
    assert notify.channels["feishu"].rate_limit.limit == 100
    assert notify.channels["ops-mail"].rate_limit.limit == 0
    assert notify.channels["hook"].options.timeout == 5.0
    assert notify.digest.max_pending == 8 and notify.digest.max_lines == 10


def test_first_match_wins(notify):
    r = notify.router
    assert r.route(n(unit="某市财政局", severity="critical")) == ["ding", "ops-mail"]
    assert r.route(n(unit="某市财政局", severity="warning")) == ["ops-mail"]
    assert r.route(n(kind="test")) == ["ops-mail"]


def test_continue_collects_further_routes(notify):
    r = notify.router
    assert r.route(n(system="seal")) == ["wecom", "ops-mail"]
    assert r.route(n(system="seal", host="mq-01")) == ["wecom", "feishu"]
    assert r.route(n(system="seal", kind="ticket_resolved")) == ["ops-mail"]


def test_no_route_matches_gives_nothing():
    r = build_routes([{"match": {"min_severity": "warning"}, "channels": ["a"]}], ["a"])
    assert r.route(n(severity="info")) == []
    assert r.route(n(severity="unknown")) == []
    assert r.route(n(severity="critical")) == ["a"]


def test_severity_aliases_and_status():
    from checks.model import Status
    r = build_routes([{"match": {"min_severity": "警告"}, "channels": ["a"]}], ["a"])
    assert r.route(n(severity=Status.CRITICAL)) == ["a"]
    assert r.route(n(severity="CRIT")) == ["a"]
    assert r.route(n(severity=Status.OK)) == []


def test_secrets_never_in_reprs(notify):
    text = repr(notify) + "".join(repr(c) + repr(c.options) for c in notify.channels.values())
    for secret in ("a1b2c3d4e5", "SECf00ba4", "9f8e7d6c", "fs-s3cret", "wk-123456", "bearer-9876"):
        assert secret not in text
    assert "access_token=***" in text and "/hook/***" in text and "key=***" in text


def test_mask_url_and_scrub():
    assert mask_url("https://u:pw@h.example.cn/p?a=1&access_token=xyz&sign=abc") == \
        "https://***@h.example.cn/p?a=1&access_token=***&sign=***"
    assert mask_url("https://open.feishu.cn/open-apis/bot/v2/hook/abc-def") == \
        "https://open.feishu.cn/open-apis/bot/v2/hook/***"
    assert scrub("token abcdef leaked, abc short", ["abcdef", "abc"]) == "token *** leaked, abc short"


@pytest.mark.parametrize(("config", "message"), [
    ({"channels": [{"name": "x", "type": "sms"}]}, r"notify.channels\[0\].type: 'sms' is not one of"),
    ({"channels": [{"name": "x", "type": "dingtalk"}]}, r"\(x\): missing option 'url'"),
    ({"channels": [{"name": "x", "type": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send"}]},
     "no access_token= parameter"),
    ({"channels": [{"name": "x", "type": "wecom", "url": "ftp://x/y?key=1"}]}, "expected an http"),
    ({"channels": [{"name": "x", "type": "webhook", "url": "https://h/x", "tiemout": 3}]},
     "did you mean 'timeout'"),
    ({"channels": [{"name": "a b", "type": "webhook", "url": "https://h/x"}]}, "channel name 'a b'"),
    ({"channels": [{"name": "x", "type": "webhook", "url": "https://h/x"}] * 2}, "used twice"),
    ({"routes": [{"channels": ["nope"]}]}, r"notify.routes\[0\].channels: unknown channel 'nope'"),
    ({"channels": [{"name": "x", "type": "webhook", "url": "https://h/x"}],
      "routes": [{"channels": ["x"]}, {"match": {"unit": "u"}, "channels": ["x"]}]}, "put it last"),
    ({"routes": [{"match": {"kind": "alarm"}, "channels": []}]}, r"routes\[0\].match: kind 'alarm'"),
    ({"routes": [{"match": {"min_severity": "fatal"}, "channels": []}]}, "not a severity"),
    ({"routes": [{"match": {"zone": "x"}, "channels": []}]}, "unknown option 'zone'"),
    ({"routs": []}, "unknown option"),
])
def test_config_errors(config, message):
    with pytest.raises(ConfigError, match=message):
        build_notify(config)


def test_config_error_does_not_leak_the_token():
    with pytest.raises(ConfigError) as e:
        build_notify({"channels": [{"name": "x", "type": "dingtalk",
                                    "url": "ftp://oapi.dingtalk.com/robot/send?access_token=leaky-token"}]})
    assert "leaky-token" not in str(e.value)


def test_empty_section():
    notify = build_notify(None)
    assert notify.channels == {} and notify.router.route(n()) == []
