"""Log lines: JSON (one object per line, for collectors) or text (for people), chosen by
RIGHTSDESK_LOG_FORMAT. Only what the code puts in a record goes out: the message and the
fields below, which carry ids, routes, statuses and counts, never personal data."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

# Extra fields a record may carry (logger.info(..., extra={...})) that the formatters show.
FIELDS = (
    "request_id",
    "method",
    "route",
    "status",
    "duration_ms",
    "client_ip",
    "version",
    "database",
    "delivery",
    "notices_to",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:  # the type only: an exception's message may hold personal data
            line["error"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record) if not record.exc_info else self._without_trace(record)
        extras = " ".join(
            f"{name}={getattr(record, name)}"
            for name in FIELDS
            if getattr(record, name, None) is not None
        )
        return f"{base} {extras}" if extras else base

    def _without_trace(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text
        record.exc_info, record.exc_text = None, None
        try:
            text = super().format(record)
        finally:
            record.exc_info, record.exc_text = saved
        return f"{text} error={saved[0][0].__name__ if saved[0] and saved[0][0] else '?'}"


def configure(log_format: str, level: int = logging.INFO) -> None:
    """One handler on the root logger, in the chosen format (uvicorn's loggers propagate)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
