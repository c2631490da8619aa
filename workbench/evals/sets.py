"""Test sets in the database (several per prompt document), and their files: our JSONL (the learn
format), CSV and promptfoo `tests` YAML. A malformed file names the line and writes nothing."""

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from workbench.db import WorkbenchDatabase, get_row, now
from workbench.errors import ImportFormatError, WorkbenchError
from workbench.evals.checks import KINDS, CheckError, from_promptfoo, make_check, parse_short, short
from workbench.evals.tasks import SPLITS, Task, parse_tasks, task_from_data
from workbench.files import MAX_DEPTH, read_user_file

FORMATS = ("jsonl", "csv", "promptfoo")
MAX_FILE_BYTES = 5 * 2**20  # a test set is far smaller; a bigger file is the wrong one
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class StoredCase:
    id: int
    position: int
    task: Task


class TestSetStore:
    """Args:
        db: an open workbench database.
    """

    __test__ = False  # not a pytest class, whatever its name says

    def __init__(self, db: WorkbenchDatabase):
        self.db = db

    # -- sets -------------------------------------------------------------------------

    def create(self, document_id: int, name: str, tasks: list[Task] = ()) -> int:
        """A new set of this document; its name is unique within the document."""
        name = _valid_name(name)
        with self.db.atomic("test set"):
            if self._named(document_id, name):
                raise WorkbenchError(f"Prompt document {document_id} already has a test set "
                                     f"named {name!r}; choose another name.")
            set_id = self.db["test_sets"].insert({"document_id": document_id, "name": name,
                                                  "created": now(), "updated": now()}).last_pk
            for i, t in enumerate(tasks):
                self._insert(set_id, i, t)
        return set_id

    def sets(self, document_id: int | None = None) -> list[dict]:
        """Sets (of one document, or all), oldest first, with their number of cases."""
        where, args = ("where s.document_id = ?", [document_id]) if document_id is not None else ("", [])
        return list(self.db.query(f"""
            select s.id, s.document_id, s.name, s.created, s.updated,
                   (select count(*) from test_cases c where c.set_id = s.id) as cases
            from test_sets s {where} order by s.id""", args))

    def get(self, set_id: int) -> dict:
        return get_row(self.db, "test_sets", set_id, f"test set {set_id}")

    def find(self, name: str, document_id: int | None = None) -> dict:
        """The set called name: the document's own first, else the only one of that name."""
        if document_id is not None:
            row = self._named(document_id, name)
            if row:
                return row
        rows = list(self.db["test_sets"].rows_where("name = ?", [name]))
        if len(rows) == 1:
            return rows[0]
        if not rows:
            known = ", ".join(sorted({r["name"] for r in self.sets()})) or "none yet"
            raise WorkbenchError(f"There is no test set named {name!r} (test sets: {known}). "
                                 "Import one with `workbench tests import FILE --name NAME`.")
        raise WorkbenchError(f"Several prompt documents have a test set named {name!r}; switch "
                             "to the document whose set you mean.")

    def rename(self, set_id: int, name: str) -> None:
        name = _valid_name(name)
        with self.db.atomic("test set"):
            row = self.get(set_id)
            other = self._named(row["document_id"], name)
            if other and other["id"] != set_id:
                raise WorkbenchError(f"There is already a test set named {name!r}.")
            self.db["test_sets"].update(set_id, {"name": name, "updated": now()})

    def delete(self, set_id: int) -> None:
        """Delete the set and its cases (the runs made with it keep their own copy)."""
        with self.db.atomic("deletion of the test set"):
            self.get(set_id)
            self.db.execute("delete from test_cases where set_id = ?", [set_id])
            self.db["test_sets"].delete(set_id)

    def _named(self, document_id: int, name: str) -> dict | None:
        rows = list(self.db["test_sets"].rows_where("document_id = ? and name = ?", [document_id, name]))
        return rows[0] if rows else None

    # -- cases ------------------------------------------------------------------------

    def cases(self, set_id: int) -> list[StoredCase]:
        rows = self.db["test_cases"].rows_where("set_id = ?", [set_id], order_by="position, id")
        return [StoredCase(r["id"], r["position"], _task(r)) for r in rows]

    def tasks(self, set_id: int) -> list[Task]:
        return [c.task for c in self.cases(set_id)]

    def add_case(self, set_id: int, task: Task, after: int | None = None) -> int:
        """Append a case (or insert it after case id `after`); returns its id."""
        with self.db.atomic("test case"):
            self.get(set_id)
            if after is None:
                position = self.db.execute("select coalesce(max(position) + 1, 0) from test_cases "
                                           "where set_id = ?", [set_id]).fetchone()[0]
            else:
                position = self._case(after)["position"] + 1
                self.db.execute("update test_cases set position = position + 1 "
                                "where set_id = ? and position >= ?", [set_id, position])
            case_id = self._insert(set_id, position, task)
            self._touch(set_id)
        return case_id

    def update_case(self, case_id: int, task: Task) -> None:
        with self.db.atomic("test case"):
            row = self._case(case_id)
            self.db["test_cases"].update(case_id, _row(task))
            self._touch(row["set_id"])

    def delete_case(self, case_id: int) -> None:
        with self.db.atomic("deletion of the test case"):
            row = self._case(case_id)
            self.db["test_cases"].delete(case_id)
            self._touch(row["set_id"])

    def duplicate_case(self, case_id: int) -> int:
        """A copy of the case, placed right after it."""
        row = self._case(case_id)
        return self.add_case(row["set_id"], _task(row), after=case_id)

    def replace_cases(self, set_id: int, tasks: list[Task]) -> None:
        with self.db.atomic("test set"):
            self.get(set_id)
            self.db.execute("delete from test_cases where set_id = ?", [set_id])
            for i, t in enumerate(tasks):
                self._insert(set_id, i, t)
            self._touch(set_id)

    def _case(self, case_id: int) -> dict:
        return get_row(self.db, "test_cases", case_id, f"test case {case_id}")

    def _insert(self, set_id: int, position: int, task: Task) -> int:
        return self.db["test_cases"].insert({"set_id": set_id, "position": position,
                                             **_row(task)}).last_pk

    def _touch(self, set_id: int) -> None:
        self.db["test_sets"].update(set_id, {"updated": now()})


def _valid_name(name: str) -> str:
    name = (name or "").strip()
    if not name or "\n" in name:
        raise WorkbenchError("A test set needs a name of one line.")
    return name


def _row(task: Task) -> dict:
    return {"query": task.query, "vars": json.dumps(task.vars, ensure_ascii=False),
            "checks": json.dumps([c.to_dict() for c in task.checks], ensure_ascii=False),
            "ideal": task.ideal, "split": task.split}


def _task(row: dict) -> Task:
    checks = [make_check(c["type"], c.get("value")) for c in json.loads(row["checks"] or "[]")]
    return Task(row["query"] or "", checks, row["ideal"], row["split"] or "train",
                json.loads(row["vars"] or "{}"))


# -- files ------------------------------------------------------------------------------


def detect_format(path: str | Path) -> str:
    name = str(path).lower()
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith((".yaml", ".yml")):
        return "promptfoo"
    raise ImportFormatError(f"Cannot tell the format of {path} from its name: use .jsonl, .csv or "
                            ".yaml (promptfoo tests), or pass --format.")


def read_set_file(path: str | Path, fmt: str | None = None) -> list[Task]:
    """The cases in a file; ImportFormatError naming the line on any fault (nothing is written)."""
    fmt = fmt or detect_format(path)
    try:
        size = Path(path).stat().st_size
    except OSError:
        size = 0  # read_user_file says what is wrong
    if size > MAX_FILE_BYTES:
        raise ImportFormatError(f"{path} is larger than {MAX_FILE_BYTES // 2**20} MB; a test set "
                                "is far smaller. Is it the right file?")
    text = read_user_file(path, error=ImportFormatError)
    return parse_set_text(text, fmt, str(path))


def parse_set_text(text: str, fmt: str, source: str = "The file") -> list[Task]:
    if fmt == "jsonl":
        return parse_tasks(text, source)
    if fmt == "csv":
        return parse_csv(text, source)
    if fmt == "promptfoo":
        return parse_promptfoo(text, source)
    raise ImportFormatError(f"Unknown test set format {fmt!r} (formats: {', '.join(FORMATS)}).")


def write_set_text(tasks: list[Task], fmt: str) -> str:
    if fmt == "jsonl":
        return "".join(t.to_line() + "\n" for t in tasks)
    if fmt == "csv":
        return to_csv(tasks)
    if fmt == "promptfoo":
        return to_promptfoo(tasks)
    raise WorkbenchError(f"Unknown test set format {fmt!r} (formats: {', '.join(FORMATS)}).")


# CSV: a `query` column, optional `ideal` and `split`, a column per check kind (its value in the
# cell), and promptfoo's `__expected`/`__expectedN` columns holding `kind: value`; any other
# column (not starting with __) is a variable.

def parse_csv(text: str, source: str = "The file") -> list[Task]:
    dialect = "excel-tab" if "\t" in text.split("\n", 1)[0] else "excel"
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    try:
        header = reader.fieldnames or []
    except csv.Error as e:
        raise ImportFormatError(f"Line 1: not CSV ({e}).") from None
    if "query" not in header and not any(_is_var(h) for h in header):
        raise ImportFormatError("Line 1: the header needs a 'query' column (and check columns).")
    tasks = []
    try:
        for row in reader:
            line = reader.line_num
            if None in row:
                raise ImportFormatError(f"Line {line}: more cells than the header has columns.")
            if not any((v or "").strip() for v in row.values()):
                continue
            tasks.append(_csv_task(row, f"Line {line}"))
    except csv.Error as e:
        raise ImportFormatError(f"Line {reader.line_num}: not CSV ({e}).") from None
    if not tasks:
        raise ImportFormatError(f"{source} has no cases.")
    return tasks


def _is_var(column: str) -> bool:
    return bool(column) and not column.startswith("__") and column not in (
        "query", "ideal", "split", *KINDS, *(k.replace("_", "-") for k in KINDS))


def _csv_task(row: dict, where: str) -> Task:
    checks = []
    try:
        for column, cell in row.items():
            cell = (cell or "").strip()
            if not column or not cell:
                continue
            kind = column.replace("-", "_")
            if kind in KINDS:
                checks.append(make_check(kind, None if kind == "json" else cell))
            elif column.startswith("__expected"):
                checks.append(_expected_cell(cell))
    except CheckError as e:
        raise ImportFormatError(f"{where}: {e}.") from None
    data = {"query": (row.get("query") or "").strip(), "split": (row.get("split") or "").strip() or "train",
            "vars": {k: v for k, v in row.items() if _is_var(k) and (v or "").strip()},
            "checks": [c.to_dict() for c in checks]}
    if (row.get("ideal") or "").strip():
        data["ideal"] = row["ideal"].strip()
    return task_from_data(data, where)


def _expected_cell(cell: str):
    """`kind: value` (ours) or promptfoo's `type:value` (icontains:km, is-json)."""
    kind, _, value = cell.partition(":")
    if kind.strip().replace("-", "_") in KINDS:
        return parse_short(cell)
    return from_promptfoo({"type": kind.strip(), "value": value.strip() or None})


def to_csv(tasks: list[Task]) -> str:
    var_names = sorted({k for t in tasks for k in t.vars})
    n_checks = max((len(t.checks) for t in tasks), default=1)
    header = ["query", *var_names, "ideal", "split", *(f"__expected{i + 1}" for i in range(n_checks))]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    for t in tasks:
        checks = [short(c) for c in t.checks] + [""] * (n_checks - len(t.checks))
        w.writerow([t.query, *(t.vars.get(v, "") for v in var_names), t.ideal or "", t.split, *checks])
    return out.getvalue()


# promptfoo: a list of tests, or a config with `tests:`; each test has `vars` (query is ours),
# `assert`, and optionally `metadata` with split and ideal.

def parse_promptfoo(text: str, source: str = "The file") -> list[Task]:
    lines = _yaml_test_lines(text)
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)  # a safe loader; aliases refused above
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as e:
        raise ImportFormatError(f"Not valid YAML: {str(e)[:160]}.") from None
    tests = data.get("tests") if isinstance(data, dict) else data
    if not isinstance(tests, list):
        raise ImportFormatError("Line 1: expected a list of promptfoo tests (or a config with `tests:`).")
    tasks = []
    for i, test in enumerate(tests):
        where = f"Line {lines[i] if i < len(lines) else 1}"
        if not isinstance(test, dict):
            raise ImportFormatError(f"{where}: each test is a mapping with `vars` and `assert`.")
        variables = test.get("vars") or {}
        if not isinstance(variables, dict):
            raise ImportFormatError(f"{where}: `vars` is a mapping of names to values.")
        variables = dict(variables)
        query = variables.pop("query", "")
        asserts = test.get("assert") or []
        if not isinstance(asserts, list):
            raise ImportFormatError(f"{where}: `assert` is a list.")
        try:
            checks = [from_promptfoo(a).to_dict() for a in asserts]
        except CheckError as e:
            raise ImportFormatError(f"{where}: {e}.") from None
        meta = test.get("metadata") if isinstance(test.get("metadata"), dict) else {}
        data = {"query": query if isinstance(query, str) else str(query), "vars": variables,
                "checks": checks, "split": meta.get("split", "train")}
        if meta.get("ideal") is not None:
            data["ideal"] = meta["ideal"]
        tasks.append(task_from_data(data, where))
    if not tasks:
        raise ImportFormatError(f"{source} has no tests.")
    return tasks


def _yaml_test_lines(text: str) -> list[int]:
    """The line each test starts on; refuses aliases and deep nesting before anything is built."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_YAML_LOADER):
            if isinstance(event, yaml.AliasEvent):
                raise ImportFormatError(f"Line {event.start_mark.line + 1}: YAML aliases are not "
                                        "imported; write the value out where it is used.")
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ImportFormatError(f"Line {event.start_mark.line + 1}: nested more than "
                                            f"{MAX_DEPTH} levels deep.")
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
        root = yaml.compose(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"Line {mark.line + 1}" if mark else "Somewhere"
        raise ImportFormatError(f"{where}: not valid YAML ({getattr(e, 'problem', None) or e}).") from None
    if isinstance(root, yaml.MappingNode):
        root = next((v for k, v in root.value if getattr(k, "value", None) == "tests"), None)
    if not isinstance(root, yaml.SequenceNode):
        return []
    return [item.start_mark.line + 1 for item in root.value]


def to_promptfoo(tasks: list[Task]) -> str:
    from workbench.share.promptfoo import assertion  # the export's mapping, one for both
    tests = []
    for t in tasks:
        test = {"vars": {"query": t.query, **t.vars} if t.query else dict(t.vars),
                "assert": [assertion(c.kind, c.value) for c in t.checks],
                "metadata": {"split": t.split, **({"ideal": t.ideal} if t.ideal else {})}}
        tests.append(test)
    return yaml.safe_dump(tests, sort_keys=False, allow_unicode=True, width=1000)


# -- rows pasted from a spreadsheet ------------------------------------------------------


def parse_pasted(text: str) -> list[Task]:
    """Tab-separated rows as a spreadsheet copies them: query, checks (`kind: value`, several
    separated by ` | `), ideal, split. A header row naming `query` is skipped."""
    tasks = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split("\t")] + ["", "", "", ""]
        if n == 1 and cells[0].lower() == "query":
            continue
        tasks.append(case_from_cells(cells[0], cells[1], cells[2], cells[3], f"Row {n}"))
    return tasks


def case_from_cells(query: str, checks: str, ideal: str = "", split: str = "", where: str = "Row") -> Task:
    """A case from the table's cells; ImportFormatError naming the row on a fault."""
    try:
        parsed = [parse_short(c) for c in checks.split(" | ") if c.strip()]
    except CheckError as e:
        raise ImportFormatError(f"{where}: {e}.") from None
    split = (split or "train").strip().lower()
    if split not in SPLITS:
        raise ImportFormatError(f"{where}: split must be 'train' or 'test', not {split!r}.")
    data = {"query": query, "checks": [c.to_dict() for c in parsed], "split": split}
    if ideal.strip():
        data["ideal"] = ideal
    return task_from_data(data, where)


def checks_cell(task: Task) -> str:
    """The table's checks cell: `kind: value` pieces joined by ` | `."""
    return " | ".join(short(c) for c in task.checks)
