"""Reading the user's files, with messages a person can act on."""

import json
import sys
from pathlib import Path

from workbench.errors import ImportFormatError, WorkbenchError

MAX_DEPTH = 64  # no tool's file nests deeper than a handful of levels


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


def check_depth(data, what: str) -> None:
    """ImportFormatError when lists and mappings nest deeper than MAX_DEPTH; checked with a
    stack of its own, as recursion is exactly what such a file would break."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ImportFormatError(f"{what} is nested more than {MAX_DEPTH} levels deep; "
                                    "no prompt file is.")
        items = value.values() if isinstance(value, dict) else value
        stack.extend((v, depth + 1) for v in items if isinstance(v, (list, dict)))


def parse_json(text: str, what: str = "The file", first_line: int = 1):
    """JSON text as data; ImportFormatError saying what (e.g. "Line 4: Parameters") is wrong
    and where, its lines counted from first_line."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ImportFormatError(f"{what} is not valid JSON: line {first_line + e.lineno - 1}, "
                                f"column {e.colno}: {e.msg}.") from None
    except RecursionError:  # the parser's own limit, around 1,000 levels
        raise ImportFormatError(f"{what} is nested more than {MAX_DEPTH} levels deep; "
                                "no prompt file is.") from None
    except ValueError as e:  # e.g. a whole number of more than 4,300 digits
        raise ImportFormatError(f"{what} is not valid JSON: {parser_complaint(e)}.") from None
    if isinstance(data, (list, dict)):
        check_depth(data, what)
    return data


def parser_complaint(e: Exception) -> str:
    """A parser's complaint, in words a person can act on."""
    if "integer string conversion" in str(e):  # Python's own limit, worded for programmers
        return "it has a whole number of more than 4,300 digits"
    return str(e)[:120] or type(e).__name__
