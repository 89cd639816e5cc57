"""检查模板 pages: the YAML editor with Chinese validation messages, share and rollback (admin only, CSRF),
matching hosts and versions, and the host page's template checks with their sources."""
from __future__ import annotations

from typing import Any

from collector.security import hash_password
from collector.users import service as users
from tests.collector.console.conftest import Browser
from tests.collector.templates_helpers import template


def admin(console: Any) -> Browser:
    with console.app.state.sessionmaker() as db:
        u = users.get_by_name(db=db, name="admin")
        u.password_hash = hash_password("admin-pass-9")
        db.commit()
    b = console.browser()
    assert "退出" in b.login("admin", "admin-pass-9").text
    return b


def test_publish_edit_share_rollback(console: Any) -> None:
    b = admin(console)
    page = b.get("/console/templates")
    assert page.status_code == 200 and "还没有模板" in page.text and "starter:voucher" in page.text
    r = b.post("/console/templates", {"yaml": template(), "percent": "100", "check": "1"})
    assert r.status_code == 200 and "校验通过 (未发布): 模板 voucher-base, 2 项检查" in r.text
    assert "还没有模板" in r.text  # nothing stored
    r = b.post("/console/templates", {"yaml": template(), "percent": "100"})
    assert r.status_code == 200 and r.url.path == "/console/templates/voucher-base"
    assert "已发布新版本" in r.text and "web01" in r.text and "应运行: v1 1 台" in r.text
    # an edit that fails validation: Chinese message, the text kept, nothing stored
    bad = template(interval="soon")
    r = b.post("/console/templates/voucher-base", {"yaml": bad, "percent": "100"})
    assert r.status_code == 422 and "检查项配置有误" in r.text and "interval: soon" in r.text
    r = b.post("/console/templates/voucher-base", {"yaml": bad, "percent": "100", "check": "1"})
    assert r.status_code == 422 and "检查项配置有误" in r.text
    r = b.post("/console/templates/voucher-base", {"yaml": template(name="other"), "percent": "100"})
    assert r.status_code == 422 and "与本页的模板 voucher-base 不同" in r.text
    r = b.post("/console/templates/voucher-base", {"yaml": template(interval="45s"), "percent": "5"})
    assert r.status_code == 200 and "当前 v2 · 发布比例 5% · 其余主机 v1" in r.text
    r = b.post("/console/templates/voucher-base/percent", {"percent": "abc"})
    assert r.status_code == 422 and "应为 1 到 100 之间的整数" in r.text
    r = b.post("/console/templates/voucher-base/percent", {"percent": "100"})
    assert "已调整发布比例" in r.text and "发布比例 100%" in r.text
    r = b.post("/console/templates/voucher-base/rollback", {})
    assert "已回退到上一个版本" in r.text and "当前 v1" in r.text
    assert "回退 v2 → v1" in r.text and "+++ voucher-base@v1" in r.text  # the audit with its diff
    r = b.post("/console/templates/voucher-base/rollback", {})
    assert r.status_code == 409 and "没有上一个版本" in r.text
    # without the CSRF token nothing happens
    r = b.post("/console/templates/voucher-base/percent", {"percent": "50"}, csrf=False)
    assert r.status_code == 403


def test_hostile_text_is_refused_and_escaped(console: Any) -> None:
    b = admin(console)
    evil = template(extra="  - {name: x, type: disk, mounts: ['<script>alert(1)</script>']}\n")
    r = b.post("/console/templates", {"yaml": evil, "percent": "100"})
    assert r.status_code == 422 and "含有 &lt;script&gt; 标记" in r.text and "<script>alert" not in r.text
    r = b.post("/console/templates", {"yaml": template() + "#\x00\n", "percent": "100"})
    assert r.status_code == 422 and "NUL" in r.text
    r = b.post("/console/templates", {"yaml": "x" * 300_000, "percent": "100"})
    assert r.status_code == 413  # the console's form limit
    r = b.post("/console/templates", {"yaml": template() + "# <b>粗体</b>\n", "percent": "100"})
    assert r.status_code == 200 and "&lt;b&gt;粗体&lt;/b&gt;" in r.text and "<b>粗体" not in r.text


def test_viewer_reads_but_cannot_change(console: Any) -> None:
    admin(console).post("/console/templates", {"yaml": template(), "percent": "100"})
    v = console.browser()
    v.login("viewer")
    page = v.get("/console/templates/voucher-base")
    assert page.status_code == 200 and "voucher-log" in page.text and 'name="yaml"' not in page.text
    assert v.post("/console/templates/voucher-base/rollback", {}).status_code == 403
    assert v.post("/console/templates", {"yaml": template(name="x2")}).status_code == 403
    assert v.get("/console/templates/nope").status_code == 404


def test_host_page_shows_template_checks_and_sources(console: Any) -> None:
    b = admin(console)
    r = b.get("/console/hosts/web01")
    assert "没有模板匹配这台主机" in r.text
    b.post("/console/templates", {"yaml": template(), "percent": "100"})
    r = b.get("/console/hosts/web01")
    assert "voucher-base@v1" in r.text and "voucher-log" in r.text and "未报告" in r.text
