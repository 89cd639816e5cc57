"""How the collector's command line reports a failure: one line in Chinese saying what went wrong and
where, the traceback only with --debug."""
from __future__ import annotations

import logging


def log_level(cmd: str, debug: bool) -> int:
    """`serve` logs its work at INFO; one-shot commands print their result and only warnings."""
    if debug:
        return logging.DEBUG
    return logging.INFO if cmd == "serve" else logging.WARNING


def quiet_libraries(debug: bool) -> None:
    """Alembic announces every migration context at INFO ("Context impl SQLiteImpl ...")."""
    if not debug:
        logging.getLogger("alembic").setLevel(logging.WARNING)


def one_line(exc: BaseException) -> str:
    """The error as one Chinese line."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(exc, ValueError):
        text = str(exc)
    elif isinstance(exc, OperationalError):
        text = f"无法访问数据库: {getattr(exc, 'orig', None) or exc}"
    elif isinstance(exc, DBAPIError):
        text = f"数据库错误: {getattr(exc, 'orig', None) or exc}"
    elif isinstance(exc, PermissionError):
        text = f"没有权限: {exc.filename or ''} ({exc.strerror})"
    elif isinstance(exc, FileNotFoundError):
        text = f"文件或目录不存在: {exc.filename or ''}"
    elif isinstance(exc, OSError):
        text = f"读写文件失败: {exc.filename or ''} ({exc.strerror or exc})"
    else:
        text = f"内部错误 {type(exc).__name__}: {exc} (加 --debug 查看详情)"
    return " ".join(text.split())
