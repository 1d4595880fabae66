"""Structured JSON logs (structlog) carrying request and case ids, with ID numbers and secrets masked."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from gateway.domain.identifiers import mask_id_number, mask_phone, redact

__all__ = ["bind_case", "bind_request", "configure_logging", "get_logger", "mask_secrets"]

# Keys whose values never reach a log line, whatever they hold.
_SECRET_KEYS = frozenset(
    {"password", "token", "secret", "authorization", "private_key", "pii_keys", "api_key", "cookie"}
)


# Fields masked by name, whatever their format (`+86 138-1234-5678` escapes the text pattern).
_MASKED_BY_NAME = {"id_number": mask_id_number, "phone": mask_phone, "mobile": mask_phone}


def _scrub_field(key: object, value: Any, depth: int) -> Any:
    if _is_secret(key):
        return "***"
    masker = _MASKED_BY_NAME.get(key) if isinstance(key, str) and isinstance(value, str) else None
    return masker(value) if masker else _scrub(value, depth)


def _scrub(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact(value)
    if depth > 4:  # deep structures are not worth walking in a log processor
        return value
    if isinstance(value, Mapping):
        return {k: _scrub_field(k, v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, depth + 1) for v in value]
    return value


def _is_secret(key: object) -> bool:
    return isinstance(key, str) and any(word in key.lower() for word in _SECRET_KEYS)


def mask_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: secrets by key name become `***`; ID and phone fields are masked by name, and ID
    and mobile numbers inside any other text by pattern (with alphanumeric boundaries)."""
    for key, value in list(event_dict.items()):
        event_dict[key] = _scrub_field(key, value, 0)
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,  # the record's logger, or our logger's `name`
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        # Last before rendering, so exception text and bound context are masked too.
        mask_secrets,
    ]


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Route structlog and the standard library (aiohttp, arq, SQLAlchemy) through one JSON renderer.

    Called by the CLI at start-up, never at import. The gateway's own events (one per request at least)
    go straight from structlog to stderr, rendered by orjson: through the standard library's logging each
    line cost ~60 µs here, ~5 % of a submission. The libraries' records keep their path, through a
    formatter that runs the same processors, so both kinds of lines look alike.
    """
    renderer: Processor = (
        structlog.processors.JSONRenderer(serializer=_json_line) if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*_shared_processors(), renderer],
        logger_factory=_NamedLogger,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log repeats what the request middleware already logs with ids and timings.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Alembic announces each plugin it sets up whenever the revision files are read (a start-up check).
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


class _CurrentStderr:
    """Whatever sys.stderr is when a line is written: loggers are cached on first use, and a test or a daemon
    may replace sys.stderr later (a handler bound to a test's captured stream, closed since, made every later
    library record a "--- Logging error ---" traceback instead of a line)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _NamedLogger(structlog.WriteLogger):
    """One line per event to the current stderr; `name` is get_logger's argument (add_logger_name reads it)."""

    def __init__(self, name: str | None = None, *_args: Any) -> None:
        super().__init__(_CurrentStderr())  # type: ignore[arg-type]
        self.name = name or "root"


def _json_line(event: EventDict, **_options: Any) -> str:
    # Values the processors leave (numbers, text, masked mappings) are JSON already; anything else
    # (an exception object, a Path) is written as its str(), as JSONRenderer's default does.
    return orjson.dumps(event, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


def bind_request(request_id: str, **values: Any) -> None:
    """Start a request's log context (called by the HTTP middleware and the job runner)."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id, **values)


def bind_case(case_id: str) -> None:
    """Services call this once they know the case, so every later line of the request carries it."""
    structlog.contextvars.bind_contextvars(case_id=case_id)
