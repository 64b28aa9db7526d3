"""Structured logging: a request id on every record, JSON in production."""

from __future__ import annotations

import contextvars
import logging

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class ReadableFormatter(logging.Formatter):
    """`12:00:01 INFO  accounts.services user.registered user_id=1 [req=ab12]` for development."""

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{key}={value}" for key, value in record.__dict__.items() if key not in _STANDARD_ATTRS
        )
        line = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<5} {record.name} {record.getMessage()}"
        if extras:
            line += f" {extras}"
        request_id = getattr(record, "request_id", "-")
        if request_id != "-":
            line += f" [req={request_id}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line
