"""What an operator reads when a command cannot run: one line in English and Chinese, never a traceback.

The commands let ordinary operational failures (the database unreachable or missing, a data directory
that cannot be written, the port in use, settings that do not parse) propagate; `main` hands them here,
the one place they become a sentence. Anything not recognised is a defect and keeps its traceback.
"""

from __future__ import annotations

import errno
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from gateway.db.outages import is_outage

__all__ = ["explain", "explain_settings"]


def explain(exc: BaseException) -> tuple[str, str] | None:
    """(English, Chinese) for a failure an operator can fix, or None for one that is a defect."""
    for cause in reversed(_chain(exc)):  # the innermost cause speaks plainest (the driver's own words)
        found = _explain_one(cause)
        if found is not None:
            return found
    return None


def explain_settings(exc: ValidationError | SettingsError) -> tuple[str, str]:
    """The GW_ variables that do not parse, each named as it is set (GW_INSTITUTIONS, GW_API__…)."""
    if isinstance(exc, SettingsError):
        field = str(exc).split('field "', 1)[-1].split('"', 1)[0] if 'field "' in str(exc) else "?"
        name = f"GW_{field.upper()}"
        return (f"invalid settings: {name} is not valid JSON", f"配置无效：{name} 不是有效的 JSON")
    problems = "; ".join(f"{_variable(e['loc'])}: {e['msg']}" for e in exc.errors())
    return (f"invalid settings: {problems}", f"配置无效：{problems}")


def _variable(loc: tuple[Any, ...]) -> str:
    head, *rest = [str(part) for part in loc] or ["?"]
    return "GW_" + head.upper() + "".join(f".{part}" for part in rest)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _explain_one(exc: BaseException) -> tuple[str, str] | None:
    name = type(exc).__name__
    text = str(exc)
    if name == "InvalidCatalogNameError" or ("database" in text and "does not exist" in text):
        return (
            f"the database does not exist: {_first_line(text)}; create it (createdb) or fix GW_DATABASE_URL",
            f"数据库不存在：{_first_line(text)}；请先创建数据库或修正 GW_DATABASE_URL",
        )
    if name in {"InvalidPasswordError", "InvalidAuthorizationSpecificationError"}:
        return (
            f"the database refused the login: {_first_line(text)}",
            f"数据库拒绝登录：{_first_line(text)}",
        )
    if isinstance(exc, OSError) and exc.filename and exc.errno in _FILE_ERRORS:
        return (
            f"cannot use {exc.filename}: {exc.strerror}; check the path (GW_DATA_DIR) and its permissions",
            f"无法使用 {exc.filename}：{exc.strerror}；请检查路径（GW_DATA_DIR）及其权限",
        )
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return (
            f"the port is in use ({_first_line(text)}): stop the other process or set GW_HTTP_PORT / --port",
            f"端口已被占用（{_first_line(text)}）：请停止占用端口的进程，或设置 GW_HTTP_PORT / --port",
        )
    if is_outage(exc):  # gateway.db.outages names every form
        return (
            f"cannot reach the database or Redis ({_first_line(text)}): is it running, and is the URL right?",
            f"无法连接数据库或 Redis（{_first_line(text)}）：请确认服务已启动、地址正确",
        )
    return None


_FILE_ERRORS = {errno.EACCES, errno.EROFS, errno.ENOENT, errno.ENOTDIR, errno.EPERM, errno.EISDIR}


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no detail"
