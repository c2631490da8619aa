"""The workbench's checks as promptfoo assertions, with the same meaning, and tasks read as data.

promptfoo's contains, equals and starts-with are case-sensitive and do not trim the answer;
the workbench's text checks ignore case and look at the answer stripped of surrounding white
space. So each kind maps to an assertion with the workbench's meaning: a case-insensitive
built-in where promptfoo has one, otherwise a small JavaScript or Python expression. Regex is
Python's (the workbench's syntax, `^`/`$` at line breaks, case-sensitive unless the pattern
says `(?i)`), so it runs as a Python assertion.
"""

import json

_JS_ANSWER = "output.trim()"
# kind -> a function of the check's value giving the promptfoo assertion.
ASSERTIONS = {
    "contains": lambda v: {"type": "icontains", "value": v},
    "not_contains": lambda v: {"type": "not-icontains", "value": v},
    "equals": lambda v: {"type": "javascript", "value":
                         f"{_JS_ANSWER}.toLowerCase() === {json.dumps(v.strip().lower())}"},
    "starts_with": lambda v: {"type": "javascript", "value":
                              f"{_JS_ANSWER}.toLowerCase().startsWith({json.dumps(v.lower())})"},
    "regex": lambda v: {"type": "python", "value":
                        f"__import__('re').search({v!r}, output.strip(), 8) is not None"},
    "json": lambda v: {"type": "is-json"},
    "json_schema": lambda v: {"type": "is-json", "value": v},
    "max_words": lambda v: {"type": "javascript", "value":
                            f"{_JS_ANSWER}.split(/\\s+/).filter(Boolean).length <= {int(v)}"},
    "judge": lambda v: {"type": "llm-rubric", "value": v},
}
KINDS = tuple(ASSERTIONS)


def task_checks(task: dict) -> list[tuple[str, object]]:
    """(kind, value) for each check of a task, whichever way the task writes them: today's
    {"check": kind, "value": v}, a list {"checks": [{"type"|"kind": kind, "value": v}]}, or
    a task-file line's own {kind: v}."""
    if isinstance(task.get("checks"), list):
        return [(c.get("type") or c.get("kind"), c.get("value")) for c in task["checks"]
                if isinstance(c, dict)]
    if task.get("check"):
        return [(task["check"], task.get("value"))]
    return [(k, task[k]) for k in KINDS if k in task]


def assertion(kind: str, value) -> dict | None:
    """The promptfoo assertion for one check; None for a kind this version does not know, or
    a value that kind cannot take."""
    make = ASSERTIONS.get(str(kind).replace("-", "_"))
    try:
        return make(value) if make else None
    except (TypeError, ValueError, AttributeError):  # e.g. max_words "many"
        return None
