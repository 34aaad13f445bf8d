"""Keep torch/transformers/peft chatter off the user's terminal (docs/runtime.md, output).

The libraries talk three ways: Python warnings (FutureWarning, UserWarning from peft),
transformers' own logger (which has a stderr handler of its own) and progress bars. During
a normal run none of it is for the user: hxpm reports what happened itself. Everything is
sent to the ``hxpm.runtime.libraries`` logger at DEBUG level instead (a debug log an
embedder can attach a handler to). With ``HXPM_DEBUG=1`` nothing is hidden: the libraries
print as they would without hxpm.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator

LOG = logging.getLogger("hxpm.runtime.libraries")
_LIBRARY_LOGGERS = ("transformers", "peft", "torch", "optimum", "torchao", "accelerate")


def debug_enabled() -> bool:
    """Whether ``HXPM_DEBUG`` asks for library output (read at each call, never at import)."""
    return os.environ.get("HXPM_DEBUG", "") not in ("", "0")


class _ToDebugLog(logging.Handler):
    """Re-emits a library's log record on ``LOG`` at DEBUG level."""

    def emit(self, record: logging.LogRecord) -> None:
        LOG.debug("%s: %s", record.name, record.getMessage())


@contextlib.contextmanager
def library_output() -> Iterator[None]:
    """Inside: library warnings, log records and progress bars go to the debug log.

    Not thread-safe by nature (``warnings`` filters are process-wide): enter it around a
    whole load or generation, not per token.
    """
    if debug_enabled():
        yield
        return
    with contextlib.ExitStack() as stack:
        stack.enter_context(_quiet_progress_bars())
        for name in _LIBRARY_LOGGERS:
            stack.enter_context(_logger_to_debug(logging.getLogger(name)))
        caught = stack.enter_context(warnings.catch_warnings(record=True))
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for w in caught:
                LOG.debug("%s: %s (%s:%s)", w.category.__name__, w.message, w.filename, w.lineno)


@contextlib.contextmanager
def _logger_to_debug(logger: logging.Logger) -> Iterator[None]:
    """Swap ``logger``'s handlers for one that forwards to the debug log, then restore."""
    handlers, propagate = logger.handlers[:], logger.propagate
    handler = _ToDebugLog()
    logger.handlers = [handler]
    logger.propagate = False
    try:
        yield
    finally:
        logger.handlers = handlers
        logger.propagate = propagate


@contextlib.contextmanager
def _quiet_progress_bars() -> Iterator[None]:
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - transformers is part of the runtime extra
        yield
        return
    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()
