"""What each check on an answer means, written down once: learn and eval run these, the promptfoo
export (workbench/share/promptfoo.py) writes the same meaning as promptfoo assertions, and
from_promptfoo reads those (and promptfoo's own) back.

An answer is stripped of surrounding white space before it is checked. The text checks
(contains, not_contains, equals, starts_with) ignore case; regex is case-sensitive unless the
pattern says `(?i)`, and `^`/`$` match at line breaks. A regex runs with a time limit
(REGEX_TIMEOUT_S), so a pattern that backtracks catastrophically fails its check instead of
hanging the run. `judge` asks a model to grade the answer against a rubric; it is never the
only check in the bundled sets.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import regex

KINDS = ("contains", "not_contains", "regex", "equals", "starts_with", "json", "json_schema",
         "max_words", "judge")
REGEX_TIMEOUT_S = 0.5
MAX_PATTERN = 2000  # characters; a task's pattern is a line, not a program


class CheckError(ValueError):
    """A check that cannot be used as written (the message says why, for the user)."""


@dataclass(frozen=True)
class Check:
    kind: str
    value: object = None  # text, a JSON schema (json_schema), a number (max_words), None (json)

    def to_dict(self) -> dict:
        return {"type": self.kind, "value": self.value}


@dataclass
class Verdict:
    kind: str
    passed: bool
    reason: str  # one line: why it passed or failed

    def to_dict(self) -> dict:
        return {"type": self.kind, "passed": self.passed, "reason": self.reason}


# A judge: (rubric, question, answer) -> (passed, reason). The runner supplies one per model.
Judge = Callable[[str, str, str], tuple[bool, str]]


def make_check(kind: str, value=None) -> Check:
    """A Check with its value validated; CheckError says what is wrong."""
    if kind not in KINDS:
        raise CheckError(f"unknown check {kind!r} (known: {', '.join(KINDS)})")
    if kind == "json":
        return Check(kind, None)
    if kind == "max_words":
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 100_000:
            raise CheckError("'max_words' needs a whole number of words from 1 to 100,000")
        return Check(kind, value)
    if kind == "json_schema":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except (ValueError, RecursionError):
                raise CheckError("'json_schema' needs a JSON schema (an object)") from None
        if not isinstance(value, dict):
            raise CheckError("'json_schema' needs a JSON schema (an object)")
        import jsonschema
        try:
            jsonschema.validators.validator_for(value).check_schema(value)
        except jsonschema.SchemaError as e:
            raise CheckError(f"the JSON schema is invalid: {e.message[:200]}") from None
        except Exception as e:  # noqa: BLE001 - a hostile "$schema" value and the like
            raise CheckError(f"the JSON schema cannot be read ({type(e).__name__})") from None
        return Check(kind, value)
    if not isinstance(value, str) or not value.strip():
        raise CheckError(f"'{kind}' needs a non-empty text value")
    if kind == "regex":
        if len(value) > MAX_PATTERN:
            raise CheckError(f"the regex is longer than {MAX_PATTERN} characters")
        try:
            regex.compile(value, regex.MULTILINE)
        except (regex.error, RecursionError, OverflowError) as e:
            raise CheckError(f"the regex is invalid: {e}") from None
    return Check(kind, value)


def run_check(check: Check, answer: str, question: str = "", judge: Judge | None = None) -> Verdict:
    """The verdict of one check on an answer."""
    a = answer.strip()
    kind, v = check.kind, check.value
    if kind == "contains":
        ok = v.lower() in a.lower()
        return Verdict(kind, ok, f"{'contains' if ok else 'does not contain'} “{v}”")
    if kind == "not_contains":
        ok = v.lower() not in a.lower()
        return Verdict(kind, ok, f"{'does not contain' if ok else 'contains'} “{v}”")
    if kind == "equals":
        ok = a.lower() == v.strip().lower()
        return Verdict(kind, ok, f"{'equals' if ok else 'is not'} “{v.strip()}”")
    if kind == "starts_with":
        ok = a.lower().startswith(v.lower())
        return Verdict(kind, ok, f"{'starts' if ok else 'does not start'} with “{v}”")
    if kind == "regex":
        try:
            ok = regex.search(v, a, regex.MULTILINE, timeout=REGEX_TIMEOUT_S) is not None
        except TimeoutError:
            return Verdict(kind, False, f"the pattern took longer than {REGEX_TIMEOUT_S:g} s "
                                        "on this answer (it backtracks too much); counted as a fail")
        return Verdict(kind, ok, f"{'matches' if ok else 'does not match'} /{v}/")
    if kind == "max_words":
        n = len(a.split())
        return Verdict(kind, n <= v, f"{n} words (at most {v})")
    if kind in ("json", "json_schema"):
        try:
            data = json.loads(a)
        except (ValueError, RecursionError) as e:
            return Verdict(kind, False, f"not valid JSON ({str(e)[:80]})")
        if kind == "json":
            return Verdict(kind, True, "valid JSON")
        import jsonschema
        error = jsonschema.exceptions.best_match(
            jsonschema.validators.validator_for(v)(v).iter_errors(data))
        if error is not None:
            return Verdict(kind, False, f"does not fit the schema: {error.message[:120]}")
        return Verdict(kind, True, "fits the schema")
    if kind == "judge":
        if judge is None:
            return Verdict(kind, False, "no judge model was chosen; counted as a fail")
        ok, reason = judge(v, question, a)
        return Verdict(kind, ok, f"judge: {reason}")
    raise CheckError(f"unknown check {kind!r}")


def run_checks(checks: list[Check], answer: str, question: str = "",
               judge: Judge | None = None) -> list[Verdict]:
    return [run_check(c, answer, question, judge) for c in checks]


def describe(check: Check) -> str:
    """What the check asks for, in words (rules written from a failed task use it)."""
    v = check.value
    return {"contains": lambda: f"include “{v}” in the answer",
            "not_contains": lambda: f"never write “{v}”",
            "regex": lambda: f"write the answer so that it matches the pattern {v}",
            "equals": lambda: f"answer exactly “{v}”",
            "starts_with": lambda: f"begin the answer with “{v}”",
            "json": lambda: "answer with valid JSON only",
            "json_schema": lambda: f"answer with JSON only, shaped as {json.dumps(v)}",
            "max_words": lambda: f"answer in at most {v} words",
            "judge": lambda: f"answer so that this holds: {v}"}[check.kind]()


def short(check: Check) -> str:
    """The check as one editable piece of text, `kind: value` (the window's table uses it)."""
    if check.value is None:
        return check.kind
    value = json.dumps(check.value) if isinstance(check.value, dict) else str(check.value)
    return f"{check.kind}: {value}"


def parse_short(text: str) -> Check:
    """`kind: value` (as short() writes it) back to a Check; CheckError when it is not one."""
    kind, _, value = text.strip().partition(":")
    kind = kind.strip().replace("-", "_").lower()
    value = value.strip()
    return make_check(kind, value if value or kind != "json" else None)


_EXPRESSIONS = (
    ("max_words", r"output\.trim\(\)\.split\(/\\s\+/\)\.filter\(Boolean\)\.length <= (\d+)"),
    ("equals", r"output\.trim\(\)\.toLowerCase\(\) === (\".*\")"),
    ("starts_with", r"output\.trim\(\)\.toLowerCase\(\)\.startsWith\((\".*\")\)"),
    ("regex", r"__import__\('re'\)\.search\((.*), output\.strip\(\), 8\) is not None"),
)


def _literal(kind: str, text: str):
    import ast
    if kind == "max_words":
        return int(text)
    try:
        value = json.loads(text) if kind != "regex" else ast.literal_eval(text)
    except (ValueError, SyntaxError, RecursionError, MemoryError):
        raise CheckError(f"the {kind} expression cannot be read back") from None
    if not isinstance(value, str):
        raise CheckError(f"the {kind} expression cannot be read back")
    return value


def from_promptfoo(assertion: dict) -> Check:
    """Our check for a promptfoo `assert` entry; CheckError for types we cannot run."""
    if not isinstance(assertion, dict) or not isinstance(assertion.get("type"), str):
        raise CheckError("each assert entry needs a 'type'")
    t, v = assertion["type"], assertion.get("value")
    simple = {"contains": "contains", "icontains": "contains", "not-contains": "not_contains",
              "not-icontains": "not_contains", "regex": "regex", "equals": "equals",
              "starts-with": "starts_with", "llm-rubric": "judge"}
    if t in simple:
        return make_check(simple[t], v)
    if t == "is-json":
        return make_check("json_schema", v) if v is not None else make_check("json")
    if t in ("javascript", "python") and isinstance(v, str):
        # The expressions workbench.share.promptfoo writes for the kinds promptfoo lacks.
        for kind, pattern in _EXPRESSIONS:
            found = regex.fullmatch(pattern, v.strip())
            if found:
                return make_check(kind, _literal(kind, found.group(1)))
    raise CheckError(f"the promptfoo assertion {t!r} has no equivalent here (known: "
                     f"{', '.join(sorted(simple))}, is-json, and the JavaScript ones this exports)")
