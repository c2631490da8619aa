"""Task sets: JSONL lines of a query, one check on the answer, an optional ideal answer and split."""

import json
import re
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import ImportFormatError
from workbench.files import read_user_file

CHECKS = ("contains", "not_contains", "regex", "equals", "starts_with", "json")


@dataclass
class Task:
    query: str
    check: str
    value: str | None  # what the check compares with (none for "json")
    ideal: str | None = None
    split: str = "train"

    def passes(self, answer: str) -> bool:
        a = answer.strip()
        if self.check == "contains":
            return self.value.lower() in a.lower()
        if self.check == "not_contains":
            return self.value.lower() not in a.lower()
        if self.check == "regex":
            return re.search(self.value, a, re.MULTILINE) is not None
        if self.check == "equals":
            return a.lower() == self.value.strip().lower()
        if self.check == "starts_with":
            return a.lower().startswith(self.value.lower())
        try:
            json.loads(a)
            return True
        except json.JSONDecodeError:
            return False

    def to_dict(self) -> dict:
        return {"query": self.query, "check": self.check, "value": self.value,
                "ideal": self.ideal, "split": self.split}


def parse_task(line: str, n: int) -> Task:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as e:
        raise ImportFormatError(f"Line {n}: not valid JSON ({e.msg}).") from None
    except (ValueError, RecursionError):  # a number of thousands of digits, deep nesting
        raise ImportFormatError(f"Line {n}: not a task this version can read (too deeply "
                                "nested, or a number too long).") from None
    if not isinstance(data, dict) or not isinstance(data.get("query"), str) or not data["query"].strip():
        raise ImportFormatError(f"Line {n}: each task needs a non-empty 'query'.")
    found = [c for c in CHECKS if c in data]
    if len(found) != 1:
        raise ImportFormatError(f"Line {n}: each task needs exactly one check of "
                                f"{', '.join(CHECKS)} (found {len(found)}).")
    check = found[0]
    value = data[check]
    if check == "json":
        value = None
    elif not isinstance(value, str) or not value:
        raise ImportFormatError(f"Line {n}: '{check}' needs a non-empty text value.")
    if check == "regex":
        try:
            re.compile(value)
        except re.error as e:
            raise ImportFormatError(f"Line {n}: the regex is invalid: {e}.") from None
    split = data.get("split", "train")
    if split not in ("train", "test"):
        raise ImportFormatError(f"Line {n}: split must be 'train' or 'test', not {split!r}.")
    ideal = data.get("ideal")
    if ideal is not None and not isinstance(ideal, str):
        raise ImportFormatError(f"Line {n}: 'ideal' must be text.")
    return Task(data["query"], check, value, ideal, split)


def load_tasks(path: str | Path) -> list[Task]:
    text = read_user_file(path, error=ImportFormatError)
    tasks = [parse_task(line, n) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not tasks:
        raise ImportFormatError(f"{path} has no tasks.")
    return tasks
