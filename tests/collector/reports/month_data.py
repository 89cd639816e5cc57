"""A realistic September 2026 for two units, built through the ingest API and the ticket services.

web01 (某市财政局): root-disk (os, disk) hourly, used % rising 1 point a day from 50 %; voucher-log
(voucher, log) hourly, CRITICAL with 5 events at 10:00 and 11:00 on 2026-09-10 (→ 2 h bad, working
time). web02 (某县财政局): seal-http (seal, http) hourly, always OK. Manual tickets T1..T4 by three
engineers, an "agent offline" ticket, and return visits (3 in September, 1 in October).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from checks.model import Metric, Result, Status
from collector.runtime import runtime
from collector.tickets import service as tickets
from collector.tickets import workflow
from collector.users import service as users
from collector.users.models import User
from tests.collector.factories import batch

CST = ZoneInfo("Asia/Shanghai")
GIB = 2**30
MONTH = "2026-09"


def cst(*a: int) -> datetime:
    return datetime(*a, tzinfo=CST)


def _disk(at: datetime, day: int) -> Result:
    used = 50.0 + day
    return Result(host="web01", check="root-disk", system="os", status=Status.OK, type="disk",
                  summary=f"/ 已用 {used}%", started_at=at, duration=0.01,
                  metrics=[Metric("used_percent:/", used, "%"), Metric("free_bytes:/", (100 - used) * GIB, "B"),
                           Metric("size_bytes:/", 100 * GIB, "B")])


def _log(at: datetime, bad: bool) -> Result:
    return Result(host="web01", check="voucher-log", system="voucher", type="log",
                  status=Status.CRITICAL if bad else Status.OK,
                  summary="发现 5 条严重错误" if bad else "无新错误", started_at=at, duration=0.01,
                  metrics=[Metric("critical_events", 5 if bad else 0), Metric("warning_events", 1 if bad else 0)])


def _seal(at: datetime) -> Result:
    return Result(host="web02", check="seal-http", system="seal", type="http", status=Status.OK,
                  summary="HTTP 200", started_at=at, duration=0.05, metrics=[Metric("time", 0.05, "s")])


def ingest_month(api: Any) -> None:
    for day in range(30):
        start = cst(2026, 9, 1) + timedelta(days=day)
        hours = [start + timedelta(hours=h) for h in range(24)]
        api.app.state.clock = lambda start=start: start + timedelta(days=1)  # received that day, whatever today is
        web01 = [_disk(t, day) for t in hours] + [
            _log(t, bad=(t.day == 10 and t.hour in (10, 11))) for t in hours]
        r = api.post_results(batch(*web01, host="web01"))
        assert r.status_code == 200, r.text
        r = api.post_results(batch(*[_seal(t) for t in hours], host="web02"), token=api.token2)
        assert r.status_code == 200, r.text


def _user(db: Any, name: str) -> User:
    return db.scalar(sa.select(User).where(User.name == name))


def tickets_month(api: Any) -> dict[str, Any]:
    settings = api.app.state.settings
    rt = runtime(settings)
    with api.app.state.sessionmaker() as db:
        users.add(db=db, name="li", role="engineer", display_name="李工", number="E02")
        users.add(db=db, name="wang", role="engineer", display_name="王工", number="E03")
        db.flush()
        zhang, li, wang = _user(db, "zhang"), _user(db, "li"), _user(db, "wang")

        # The engineer who takes a call is the case's engineer (their name and number from the login).
        def case(at: datetime, channel: str, unit: str, text: str, system: str = "voucher", taker: Any = None) -> Any:
            return workflow.create_manual(db=db, rt=rt, actor=taker or zhang, now=at, number_prefix="FW",
                                          tz=settings.timezone, data={
                                              "channel": channel, "description": text, "customer_name": "刘科长",
                                              "customer_unit": unit, "room": "301", "system": system,
                                              "host": "web01", "reported_at": at})
        # T1 phone: 0.5 wh response (met), resolved after 2 wh, 满意
        t1 = case(cst(2026, 9, 7, 9, 0), "phone", "某市财政局", "凭证库无法登录")
        workflow.acknowledge(db=db, ticket=t1, actor=zhang, now=cst(2026, 9, 7, 9, 30))
        workflow.resolve(db=db, ticket=t1, actor=zhang, now=cst(2026, 9, 7, 11, 0), resolution="重置密码", rt=rt)
        workflow.close(db=db, ticket=t1, actor=zhang, now=cst(2026, 9, 7, 12, 0), satisfaction="满意")
        # T2 e-mail Tue 17:00: response 2 wh (met: 4 h); pending 9th 10:00 → 10th 10:00; resolution 4 wh
        t2 = case(cst(2026, 9, 8, 17, 0), "email", "某市财政局", "电子印章无法加盖", system="seal")
        workflow.acknowledge(db=db, ticket=t2, actor=zhang, now=cst(2026, 9, 9, 9, 0))
        workflow.pend(db=db, ticket=t2, actor=zhang, now=cst(2026, 9, 9, 10, 0), rt=rt)
        workflow.resume(db=db, ticket=t2, actor=zhang, now=cst(2026, 9, 10, 10, 0), rt=rt)
        workflow.resolve(db=db, ticket=t2, actor=zhang, now=cst(2026, 9, 10, 11, 0), resolution="更新证书", rt=rt)
        workflow.close(db=db, ticket=t2, actor=zhang, now=cst(2026, 9, 10, 12, 0), satisfaction="基本满意")
        # T3 on site: li answers after 3.5 wh (breached: 2 h), 不满意
        t3 = case(cst(2026, 9, 14, 9, 0), "onsite", "某市财政局", "消息中间件队列堆积", system="mq", taker=li)
        workflow.acknowledge(db=db, ticket=t3, actor=li, now=cst(2026, 9, 14, 13, 30))
        workflow.resolve(db=db, ticket=t3, actor=li, now=cst(2026, 9, 15, 9, 0), resolution="清理队列", rt=rt)
        workflow.close(db=db, ticket=t3, actor=li, now=cst(2026, 9, 15, 10, 0), satisfaction="不满意")
        # T4 remote (某县财政局): wang answers after 20 min, 满意
        t4 = case(cst(2026, 9, 15, 10, 0), "remote", "某县财政局", "印章服务重启", system="seal", taker=wang)
        workflow.acknowledge(db=db, ticket=t4, actor=wang, now=cst(2026, 9, 15, 10, 20))
        workflow.resolve(db=db, ticket=t4, actor=wang, now=cst(2026, 9, 15, 10, 40), resolution="已重启", rt=rt)
        workflow.close(db=db, ticket=t4, actor=wang, now=cst(2026, 9, 15, 11, 0), satisfaction="满意")
        # an agent that went silent for 3 hours (as detect_offline opens it)
        ag, _ = tickets.open_for_fault(db=db, fault_key="agent:web02", at=cst(2026, 9, 20, 2, 0), number_prefix="FW",
                                       tz=settings.timezone, fields={
                                           "source": "agent", "channel": "auto", "severity": "critical",
                                           "system": "os", "host": "web02", "check": "agent",
                                           "title": "web02: 巡检代理失联", "description": "巡检代理 web02 失联",
                                           "customer_unit": "某县财政局", "room": "102"})
        tickets.resolve_recovered(db=db, ticket=ag, at=cst(2026, 9, 20, 5, 0), note="巡检代理 web02 已恢复上报")
        db.commit()
        return {"t1": t1.id, "t3": t3.id}


def visits_month(api: Any, t1: int) -> None:
    for date, unit, sat, method in (("2026-09-08", "某市财政局", "满意", "电话"),
                                    ("2026-09-16", "某县财政局", "满意", "现场"),
                                    ("2026-09-28", "某市财政局", "基本满意", "问卷"),
                                    ("2026-10-09", "某市财政局", "不满意", "电话")):
        r = api.client.post("/api/v1/visits", headers=api.h(api.engineer_key), json={
            "date": date, "unit": unit, "customer_name": "刘科长", "method": method, "satisfaction": sat,
            "comment": "响应及时", "ticket_id": t1 if date == "2026-09-08" else None,
            "answers": [{"question": "工程师是否及时响应?", "answer": "是"},
                        {"question": "问题是否解决?", "answer": "已解决"}]})
        assert r.status_code == 201, r.text


def build_month(api: Any) -> dict[str, Any]:
    ingest_month(api)
    ids = tickets_month(api)
    visits_month(api, ids["t1"])
    from collector.rollups.service import run_rollups

    with api.app.state.sessionmaker() as db:
        run_rollups(db=db, now=cst(2026, 10, 8, 9, 0), calendar=runtime(api.app.state.settings).calendar)
        db.commit()
    return ids
