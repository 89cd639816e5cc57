"""The first-working-day job run by two collector processes on one database, their clocks moved through
National Day 2026 and New Year 2027 (app.state.clock → JobRunner → the job's `now`): nothing on the
holidays, the reports and 系统服务单 made once on the first working day, and each unit with a contact
e-mail gets one mail with both PDFs through the outbox — received by a real SMTP server (aiosmtpd),
read back with the email package, the PDFs read with poppler. A unit whose mail server says "try
again" is retried, and never holds up another unit's mail."""
from __future__ import annotations

import email
import email.policy
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.calendar import service as calendar
from collector.config import Settings
from collector.notifications.models import OutboxMessage
from collector.reports.models import Report
from collector.reports.period import first_workday
from collector.runtime import runtime
from collector.tickets import workflow
from collector.users import service as users
from collector.users.models import User
from tests.collector.console.conftest import Browser
from tests.collector.reports.month_data import cst, tickets_month
from tests.collector.test_calendar_import import NOTICE_2027
from tests.helpers.net import closed_port

CITY, COUNTY = "某市财政局", "某县财政局"
CITY_TO, COUNTY_TO = "刘科长 <liu@czj.example.cn>", "xian@xczj.example.cn"
needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")


class Inbox:
    """Keeps what arrives; answers 451 (try again later) to the first delivery for `flaky`."""

    def __init__(self, flaky: str) -> None:
        self.messages: list[tuple[Any, email.message.EmailMessage]] = []
        self.flaky, self.refused = flaky, 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        with self.lock:
            if address == self.flaky and not self.refused:
                self.refused += 1
                return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.messages.append((envelope, msg))
        return "250 accepted"

    def to(self, addr: str) -> list[email.message.EmailMessage]:
        return [m for env, m in self.messages if addr in env.rcpt_tos]


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box, port = Inbox(flaky="xian@xczj.example.cn"), closed_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def settings(db_url: str, inbox: tuple[Inbox, int]) -> Settings:
    return Settings(db_url=db_url, jobs_enabled=False, notify={
        "channels": [{"name": "mail", "type": "email", "host": "127.0.0.1", "port": inbox[1], "timeout": "10s",
                      "from": "巡检平台 <xunjian@example.cn>", "to": ["ops@example.cn"]}],
        "routes": [{"channels": ["mail"]}]},
        report={"provider": "某某信息技术有限公司", "contacts": {CITY: [CITY_TO], COUNTY: [COUNTY_TO]}})


@pytest.fixture
def apps(api: Any, settings: Settings) -> Iterator[list[Any]]:
    """This process and another collector process on the same database (its own Settings and calendar)."""
    other = create_app(Settings(**settings.model_dump()))
    with TestClient(other):
        yield [api.app, other]


def walk(apps: list[Any], start: datetime, end: datetime, step: timedelta) -> None:
    """Every process wakes at each step of its clock and runs what is due, at the same moment."""
    t = start
    while t < end:
        for app in apps:
            app.state.clock = lambda t=t: t
        threads = [threading.Thread(target=app.state.jobs.run_due) for app in apps]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        t += step


def reports(app: Any, month: str) -> dict[tuple[str, str], datetime]:
    with app.state.sessionmaker() as db:
        return {(r.unit, r.format): r.generated_at for r in db.scalars(sa.select(Report).where(Report.month == month))}


def mails(app: Any) -> list[OutboxMessage]:
    with app.state.sessionmaker() as db:
        return list(db.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "report_mail")
                               .order_by(OutboxMessage.id)))


def attachments(msg: email.message.EmailMessage, tmp: Path) -> dict[str, Path]:
    out = {}
    for part in msg.iter_attachments():
        assert part.get_content_type() == "application/pdf"
        path = tmp / part.get_filename()
        path.write_bytes(part.get_content())
        out[part.get_filename()] = path
    return out


def pdf_text(path: Path) -> tuple[str, int]:
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))
    return text, pages


@needs_poppler
def test_after_national_day(api: Any, apps: list[Any], inbox: tuple[Inbox, int], tmp_path: Path) -> None:
    box, _ = inbox
    tickets_month(api)  # September: 3 calls from 某市财政局, 1 from 某县财政局 and its agent going silent
    rt = runtime(api.app.state.settings)
    assert first_workday(date(2026, 10, 1), rt.calendar) == date(2026, 10, 8)

    walk(apps, cst(2026, 10, 1, 0, 0), cst(2026, 10, 8, 0, 0), timedelta(hours=3))  # 国庆节 1–7 October
    assert reports(api.app, "2026-09") == {} and mails(api.app) == []
    assert box.to("liu@czj.example.cn") == box.to("xian@xczj.example.cn") == []  # ops had the tickets' mails
    with api.app.state.sessionmaker() as db:  # the job did run on those days, and found nothing to do
        last = db.execute(sa.text("SELECT last_ok_at, failures FROM job_runs WHERE name = 'monthly-report'")).one()
        assert last.failures == 0 and last.last_ok_at is not None

    walk(apps, cst(2026, 10, 8, 0, 0), cst(2026, 10, 8, 3, 0), timedelta(minutes=5))
    made = reports(api.app, "2026-09")
    assert set(made) == {(u, f) for u in ("", CITY, COUNTY) for f in ("xlsx", "pdf", "forms")}
    assert set(made.values()) == {cst(2026, 10, 8, 0, 0)}  # all at the first run, none made again

    by_unit = {m.payload["unit"]: m for m in mails(api.app)}
    assert set(by_unit) == {CITY, COUNTY}  # one each, though two processes ran the job
    city, county = by_unit[CITY], by_unit[COUNTY]
    assert city.payload["mail_to"] == [CITY_TO] and county.payload["mail_to"] == [COUNTY_TO]
    assert (city.status, city.attempts) == ("sent", 1)
    assert cst(2026, 10, 8, 0, 0) <= city.sent_at <= cst(2026, 10, 8, 0, 5)  # the outbox job's next run at most
    assert (county.status, county.attempts) == ("sent", 2) and "451" not in county.last_error
    assert county.sent_at > city.sent_at  # the retry, after the backoff
    assert box.refused == 1

    [to_city] = box.to("liu@czj.example.cn")
    [to_county] = box.to("xian@xczj.example.cn")
    assert to_city["Subject"] == "[巡检][提示] 某市财政局 系统服务月报 2026年9月"
    assert to_city["To"].addresses[0].display_name == "刘科长"
    assert "附件是 2026年9月的系统服务月报和当月的系统服务单 (共 3 张)" in to_city.get_body(("plain",)).get_content()
    files = attachments(to_city, tmp_path)
    assert set(files) == {"系统服务月报-2026-09-某市财政局.pdf", "系统服务单-2026-09-某市财政局.pdf"}
    text, pages = pdf_text(files["系统服务月报-2026-09-某市财政局.pdf"])
    assert "某市财政局" in text and "签字确认" in text and f"第{pages}页共{pages}页" in text.replace(" ", "")
    text, pages = pdf_text(files["系统服务单-2026-09-某市财政局.pdf"])
    assert pages == 3 and text.count("系统服务单") >= 3 and "某县财政局" not in text
    text, pages = pdf_text(attachments(to_county, tmp_path)["系统服务单-2026-09-某县财政局.pdf"])
    assert pages == 2 and "巡检代理 web02 失联" in text  # the call and the agent's outage
    assert all(not m.is_multipart() for m in box.to("ops@example.cn"))  # the announcements carry no files

    with api.app.state.sessionmaker() as db:
        users.add(db=db, name="boss", role="viewer", password="boss-pass-1")
        db.commit()
    b = Browser(api.app)
    assert b.login("boss", "boss-pass-1").status_code == 200
    page = b.get("/console/reports").text
    assert "月报邮件" in page and "liu@czj.example.cn" in page and page.count("已发送") == 2


def test_after_new_year_with_the_2027_notice(api: Any, apps: list[Any], inbox: tuple[Inbox, int]) -> None:
    box, _ = inbox
    settings = api.app.state.settings
    with api.app.state.sessionmaker() as db:
        zhang = db.scalar(sa.select(User).where(User.name == "zhang"))
        workflow.create_manual(db=db, rt=runtime(settings), actor=zhang, now=cst(2026, 12, 14, 9, 0),
                               number_prefix="FW", tz=settings.timezone, data={
                                   "channel": "phone", "description": "印章服务无法登录", "customer_name": "刘科长",
                                   "customer_unit": CITY, "room": "301", "system": "seal", "reported_at":
                                       cst(2026, 12, 14, 9, 0)})
        # the State Council's arrangement for 2027, imported as an operator does (invented dates, see there)
        calendar.import_schedule(db=db, rt=runtime(settings, db), parsed=calendar.parse_text(NOTICE_2027),
                                 actor="test", now=cst(2026, 12, 1, 9, 0))
        db.commit()
    for app in apps:  # each process brings its calendar up to the database's
        with app.state.sessionmaker() as db:
            assert first_workday(date(2027, 1, 1), runtime(app.state.settings, db).calendar) == date(2027, 1, 4)

    walk(apps, cst(2027, 1, 1, 0, 0), cst(2027, 1, 4, 0, 0), timedelta(hours=3))  # 元旦 1–3 January
    assert reports(api.app, "2026-12") == {} and mails(api.app) == []
    walk(apps, cst(2027, 1, 4, 0, 0), cst(2027, 1, 4, 1, 0), timedelta(minutes=5))
    made = reports(api.app, "2026-12")
    assert (CITY, "forms") in made and set(made.values()) == {cst(2027, 1, 4, 0, 0)}
    assert sorted((m.payload["unit"], m.status) for m in mails(api.app)) == [(COUNTY, "sent"), (CITY, "sent")]
    [to_city] = box.to("liu@czj.example.cn")
    assert to_city["Subject"] == "[巡检][提示] 某市财政局 系统服务月报 2026年12月"
    assert "(共 1 张)" in to_city.get_body(("plain",)).get_content()
    assert len(box.to("xian@xczj.example.cn")) == 1


@pytest.mark.parametrize("addr", ["liu@czj.example.cn\r\nBcc: all@evil.example", "刘科长", "a@b\x00.cn", "x@localhost",
                                  "\ud800@czj.example.cn"])
def test_a_contact_that_is_not_one_address_is_refused(addr: str) -> None:
    with pytest.raises(ValueError, match=r"report\.contacts"):
        Settings(report={"contacts": {CITY: [addr]}})


def test_contacts_need_an_email_channel(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    hook = {"channels": [{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/x"}]}
    with pytest.raises(ValueError, match="needs an e-mail channel"):
        runtime(Settings(db_url=url, notify=hook, report={"contacts": {CITY: [CITY_TO]}}))
    with pytest.raises(ValueError, match="not an e-mail channel"):
        runtime(Settings(db_url=url, notify=hook, report={"mail_channel": "hook"}))
    assert runtime(Settings(db_url=url, notify=hook)).report_mail == ""  # no contacts: nothing to send


def test_attachment_names_are_never_paths_or_header_breaks() -> None:
    from collector.reports.models import file_name

    assert file_name("2026-09", "某市/财政局\r\nBcc: x", "forms") == "系统服务单-2026-09-某市_财政局__Bcc: x.pdf"
    assert file_name("2026-09", "", "xlsx") == "系统服务月报-2026-09.xlsx"
