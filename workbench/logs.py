"""The error boundary's log: unexpected exceptions become one line for the user and a full
traceback in a rotated log file in the data folder."""

import logging
import logging.handlers
import traceback

from workbench.db import data_home

LOG_NAME = "workbench.log"
_logger = logging.getLogger("workbench")


def log_path():
    return data_home() / LOG_NAME


def _handler_ready() -> None:
    # Attached on first use, so importing this module writes nothing and tests that move
    # WORKBENCH_HOME get a log in their own folder.
    path = log_path()
    if any(getattr(h, "baseFilename", None) == str(path) for h in _logger.handlers):
        return
    for h in list(_logger.handlers):
        _logger.removeHandler(h)
        h.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=1 << 20, backupCount=3,
                                                   encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    _logger.addHandler(handler)
    _logger.setLevel(logging.INFO)
    _logger.propagate = False


def report_unexpected(exc: BaseException, where: str) -> str:
    """Log exc's traceback; return a one-line message for the user that says where to look."""
    summary = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300] if str(exc) else type(exc).__name__
    try:
        _handler_ready()
        _logger.error("unexpected error in %s\n%s", where,
                      "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        details = f"the details are in {log_path()}"
    except OSError as e:  # a read-only or full data folder must not hide the first error
        details = f"the log could not be written ({e.strerror or e})"
    return f"Something went wrong in {where} ({summary}); {details}."
