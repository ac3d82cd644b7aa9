"""Keeps API keys out of every log line, whoever logs it (httpx, httpcore, this package).

A log-record factory rewrites each emitted record's message with registered secrets masked, so
it works for handlers installed later too, and for third-party loggers.
"""

from __future__ import annotations

import logging
import threading

from tiers.base import TRACE

__all__ = ["MASK", "TRACE", "redact", "register_secret", "unregister_secret"]

MASK = "***"
_MIN_SECRET_LEN = 4  # shorter strings would mask ordinary text

_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False
_base_factory = logging.getLogRecordFactory()


def redact(text: str) -> str:
    """`text` with every registered secret masked."""
    for s in _secrets:
        if s in text:
            text = text.replace(s, MASK)
    return text


def _factory(*args: object, **kwargs: object) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    if _secrets:
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string is the logger's problem, not ours
            return record
        cleaned = redact(message)
        if cleaned != message:  # records without a secret stay exactly as they were
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            if any(s in str(exc) for s in _secrets):
                record.exc_info = None
                record.msg = f"{record.msg} [{type(exc).__name__}: {redact(str(exc))}]"
    return record


def register_secret(secret: str) -> None:
    """Mask `secret` in all log output from now on."""
    global _installed
    if len(secret) < _MIN_SECRET_LEN:
        return
    with _lock:
        _secrets.add(secret)
        if not _installed:
            logging.setLogRecordFactory(_factory)
            _installed = True


def unregister_secret(secret: str) -> None:
    with _lock:
        _secrets.discard(secret)
