"""Reading the user's files, with messages a person can act on."""

import sys
from pathlib import Path

from workbench.errors import WorkbenchError


def read_user_file(path: str | Path, stdin_dash: bool = False,
                   error: type[WorkbenchError] = WorkbenchError) -> str:
    """A UTF-8 text file's contents ("-" reads standard input when stdin_dash);
    `error` naming the file when it cannot be read."""
    if stdin_dash and str(path) == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise error(f"Cannot read {path}: it is not UTF-8 text ({e.reason} at byte {e.start}).") from e
    except OSError as e:
        raise error(f"Cannot read {path}: {e.strerror or e}.") from e
