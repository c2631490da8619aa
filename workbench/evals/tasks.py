"""Test cases: a query (or variable values), checks on the answer, an optional ideal answer and
split; parsed from our JSONL (the learn format), one case a line."""

import json
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import ImportFormatError
from workbench.evals.checks import KINDS, Check, CheckError, Judge, Verdict, make_check, run_checks
from workbench.files import read_user_file

CHECKS = KINDS
SPLITS = ("train", "test")


@dataclass
class Task:
    query: str
    checks: list[Check]
    ideal: str | None = None
    split: str = "train"
    vars: dict[str, str] = field(default_factory=dict)  # values for the document's {{variables}}

    @property
    def check(self) -> str:
        """The first check's kind (a task of the learn format has one)."""
        return self.checks[0].kind

    @property
    def value(self):
        return self.checks[0].value

    def verdicts(self, answer: str, judge: Judge | None = None) -> list[Verdict]:
        return run_checks(self.checks, answer, self.query, judge)

    def passes(self, answer: str, judge: Judge | None = None) -> bool:
        return all(v.passed for v in self.verdicts(answer, judge))

    def to_dict(self) -> dict:
        """The case as data: `checks` lists every check ({"type", "value"}); `check` and `value`
        repeat the first one for readers of the one-check learn format."""
        return {"query": self.query, "vars": dict(self.vars),
                "checks": [c.to_dict() for c in self.checks], "ideal": self.ideal, "split": self.split,
                "check": self.check, "value": self.value}

    def to_line(self) -> str:
        """The JSONL line: one key per check when kinds do not repeat (the learn format), else `checks`."""
        data: dict = {"query": self.query}
        if self.vars:
            data["vars"] = dict(self.vars)
        kinds = [c.kind for c in self.checks]
        if len(set(kinds)) == len(kinds):
            data.update({c.kind: c.value if c.kind != "json" else True for c in self.checks})
        else:
            data["checks"] = [c.to_dict() for c in self.checks]
        if self.ideal is not None:
            data["ideal"] = self.ideal
        data["split"] = self.split
        return json.dumps(data, ensure_ascii=False)


def task_from_data(data, where: str) -> Task:
    """A Task from a JSON object; ImportFormatError starting with `where` ("Line 3") on any fault."""
    if not isinstance(data, dict):
        raise ImportFormatError(f"{where}: each case is a JSON object with a 'query' and checks.")
    variables = data.get("vars", {})
    if not isinstance(variables, dict) or not all(isinstance(k, str) and isinstance(v, (str, int, float))
                                                  and not isinstance(v, bool) for k, v in variables.items()):
        raise ImportFormatError(f"{where}: 'vars' maps variable names to text values.")
    variables = {k: str(v) for k, v in variables.items()}
    query = data.get("query", "")
    if not isinstance(query, str) or not (query.strip() or variables):
        raise ImportFormatError(f"{where}: each case needs a non-empty 'query' (or 'vars').")
    checks: list[Check] = []
    try:
        for kind in data:  # in the line's own order
            if kind in KINDS:
                checks.append(make_check(kind, None if kind == "json" else data[kind]))
        listed = data.get("checks", [])
        if not isinstance(listed, list):
            raise CheckError("'checks' is a list of {\"type\": ..., \"value\": ...}")
        for item in listed:
            if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                raise CheckError("each entry of 'checks' needs a 'type'")
            checks.append(make_check(item["type"], item.get("value")))
    except CheckError as e:
        raise ImportFormatError(f"{where}: {e}.") from None
    if not checks:
        raise ImportFormatError(f"{where}: each case needs at least one check of {', '.join(KINDS)}.")
    split = data.get("split", "train")
    if split not in SPLITS:
        raise ImportFormatError(f"{where}: split must be 'train' or 'test', not {split!r}.")
    ideal = data.get("ideal")
    if ideal is not None and not isinstance(ideal, str):
        raise ImportFormatError(f"{where}: 'ideal' must be text.")
    return Task(query, checks, ideal, split, variables)


def parse_task(line: str, n: int) -> Task:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as e:
        raise ImportFormatError(f"Line {n}: not valid JSON ({e.msg}).") from None
    except (ValueError, RecursionError):  # a number of thousands of digits, deep nesting
        raise ImportFormatError(f"Line {n}: not a task this version can read (too deeply "
                                "nested, or a number too long).") from None
    return task_from_data(data, f"Line {n}")


def parse_tasks(text: str, source: str = "The file") -> list[Task]:
    tasks = [parse_task(line, n) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not tasks:
        raise ImportFormatError(f"{source} has no tasks.")
    return tasks


def load_tasks(path: str | Path) -> list[Task]:
    return parse_tasks(read_user_file(path, error=ImportFormatError), str(path))
