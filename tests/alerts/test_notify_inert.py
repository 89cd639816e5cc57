"""Ticket, agent and customer text in notifications is shown, never rendered: no link, image, mention
or tag in robot markdown, no header injection in mail, delivered through a real SMTP server."""
from __future__ import annotations

from datetime import datetime, timezone
from email import message_from_bytes, policy

from alerts.notify import Notification
from alerts.notify.digest import make_digest
from alerts.notify.inert import markdown_text, one_line
from alerts.notify.message import dingtalk_body, feishu_body, render_markdown, wecom_body
from tests.alerts.test_notify_email import Store, mail, smtp_server

AT = datetime(2026, 11, 25, 2, 15, tzinfo=timezone.utc)
HOSTILE = Notification(
    kind="ticket_opened", severity="critical", created_at=AT,
    title="[点我领取](http://evil.example/a) <at id=all></at>\r\nBcc: victim@example.org",
    text='![x](http://evil.example/p.png)\n<font color="info">已恢复</font> <@all> [a][1]\n\n[1]: http://evil.example/r',
    unit="<b>某市</b>", host="web]01(", ticket_no="FW-1")
ACTIVE = ("](", "![", "<at", "<font color=\"info\">", "<@", "<b>", "[1]:")


def test_robot_markdown_shows_the_text_but_renders_nothing_of_it() -> None:
    bodies = {
        "dingtalk": dingtalk_body(HOSTILE)["markdown"]["text"],
        "feishu": feishu_body(HOSTILE)["card"]["elements"][0]["text"]["content"],
        "wecom": wecom_body(HOSTILE)["markdown"]["content"],
    }
    for name, md in bodies.items():
        for active in ACTIVE:
            assert active not in md, (name, active)
        assert "已恢复" in md and "＜b＞某市＜/b＞" in md and "http://evil.example/p.png" in md, name
        if name != "feishu":  # Feishu shows the subject in its card's plain-text header
            assert "［点我领取］(http://evil.example/a) ＜at id=all＞＜/at＞ Bcc:" in md.split("\n")[0], name
    header = feishu_body(HOSTILE)["card"]["header"]["title"]
    assert header["tag"] == "plain_text" and "\n" not in header["content"] and "\r" not in header["content"]
    assert bodies["wecom"].count('<font color="warning">') == 1  # the severity colour of our own


def test_digest_keeps_its_list_and_inerts_titles() -> None:
    md = render_markdown(make_digest([HOSTILE, HOSTILE], now=AT))
    assert "\n- " in md and "](" not in md and "<at" not in md


def test_mail_subject_is_one_header() -> None:
    store = Store()
    with smtp_server(store) as port:
        result = mail(port).send(HOSTILE)
    assert result.ok, result
    envelope, _ = store.messages[0]
    msg = message_from_bytes(envelope.original_content, policy=policy.default)
    assert msg["Bcc"] is None and envelope.rcpt_tos == ["ops@example.cn"]
    assert msg["Subject"].startswith("[巡检][严重] <b>某市</b> [点我领取](http://evil.example/a) <at id=all></at> Bcc:")
    assert msg.get_content_type() == "text/plain"  # mail is plain text: nothing in it is markup


def test_helpers() -> None:
    assert markdown_text("a<b>[c](d)\x1b\t") == "a＜b＞［c］(d) \t"
    assert one_line(" a\r\n\tb\u2028c ") == "a b c"
