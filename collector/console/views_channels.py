"""通知通道: each configured channel's state and latest delivery, and a test send through the outbox."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from collector.console import channels
from collector.console.web import AdminForm, ConsoleError, PageUser, render, settings_of
from collector.db import utcnow
from collector.deps import SessionDep
from collector.runtime import runtime
from collector.users.service import has_role

router = APIRouter(prefix="/console/channels", include_in_schema=False)


def _page(request: Request, db: Session, message: str = "", error: str = "", status: int = 200) -> Response:
    rt = runtime(settings_of(request))
    return render(request, "channels.html", status=status, states=channels.states(db=db, config=rt.notify),
                  fail_streak=channels.FAIL_STREAK, message=message, error=error,
                  routes=len(rt.notify.router.routes), nav="channels")


@router.get("")
def channel_list(request: Request, db: SessionDep, me: PageUser) -> Response:
    if not has_role(me.user, "engineer"):
        raise ConsoleError(403, "只读账号 (viewer) 不能查看通知通道。")
    return _page(request, db)


@router.post("/test")
async def test_send(request: Request, form: AdminForm) -> Response:
    name = form.get("channel")
    config = runtime(settings_of(request)).notify
    if name not in config.channels:
        raise ConsoleError(422, "没有这个通知通道。")
    # the send (network, up to the channel's timeout) runs on a worker thread, outside any transaction
    row = await run_in_threadpool(lambda: channels.test_send(
        factory=request.app.state.sessionmaker, config=config, name=name, actor=form.active.user.display_name
        or form.active.user.name, now=utcnow()))
    with request.app.state.read_sessionmaker() as db:
        if row.status == "sent":
            return _page(request, db, message=f"测试消息已通过 {name} 发出。")
        if row.status == "pending" and row.attempts == 0:
            return _page(request, db, message=f"测试消息已排队: {name} 达到发送频率上限, 稍后由后台发送。")
        return _page(request, db, status=502, error=f"测试消息发送失败 ({name}): {row.last_error or '未知原因'}")
