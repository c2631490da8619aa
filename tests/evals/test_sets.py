"""Test sets in the database, and their files: JSONL, CSV, promptfoo YAML."""

import json

import pytest

from tests.conftest import call_cli
from workbench.errors import ImportFormatError, WorkbenchError
from workbench.evals.checks import make_check
from workbench.evals.sets import (
    TestSetStore,
    case_from_cells,
    checks_cell,
    parse_pasted,
    parse_set_text,
    read_set_file,
    write_set_text,
)
from workbench.evals.tasks import Task
from workbench.resources import resource_path

HOUSE = resource_path("tasks", "house_conventions.jsonl")
RICH = [
    Task("How far is Rome from Naples?", [make_check("contains", "km"), make_check("max_words", 30)],
         "About 225 km.", "test"),
    Task("Describe {{city}} as JSON", [make_check("json_schema", {"type": "object", "required": ["name"]})],
         None, "train", {"city": "Oslo"}),
    Task("Capital of Italy?", [make_check("starts_with", "ANSWER:"), make_check("regex", r"Rome$"),
                               make_check("regex", r"^ANSWER")], "ANSWER: Rome"),
    Task("Be kind", [make_check("judge", "the answer is polite"), make_check("not_contains", "stupid"),
                     make_check("equals", "Thank you"), make_check("json")]),
]


def test_several_sets_per_document_and_case_editing(ws):
    store = TestSetStore(ws.db)
    doc = ws.prompts.active_id()
    a = store.create(doc, "distances", RICH[:2])
    b = store.create(doc, "capitals", RICH[2:])
    with pytest.raises(WorkbenchError, match="already has"):
        store.create(doc, "distances")
    other = ws.prompts.create()
    store.create(other, "distances", RICH[:1])  # the same name in another document is fine
    assert [s["name"] for s in store.sets(doc)] == ["distances", "capitals"]
    assert store.find("distances", doc)["id"] == a
    with pytest.raises(WorkbenchError, match="Several"):
        store.find("distances")
    assert store.find("capitals")["id"] == b
    first = store.cases(a)[0]
    copy = store.duplicate_case(first.id)
    assert [c.id for c in store.cases(a)] == [first.id, copy, store.cases(a)[2].id]
    store.update_case(copy, case_from_cells("How far is Oslo from Bergen?", "contains: km | max_words: 10"))
    assert store.cases(a)[1].task.checks == [make_check("contains", "km"), make_check("max_words", 10)]
    store.delete_case(first.id)
    assert [c.task.query for c in store.cases(a)] == ["How far is Oslo from Bergen?", RICH[1].query]
    assert store.tasks(b) == RICH[2:]
    store.delete(b)
    assert [s["name"] for s in store.sets(doc)] == ["distances"]


def caseless(tasks):
    """equals and starts_with ignore case: the promptfoo export may write them in lower case."""
    return [[(c.kind, c.value.lower() if c.kind in ("equals", "starts_with") else c.value) for c in t.checks]
            for t in tasks]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "promptfoo"])
def test_every_format_round_trips_every_check(fmt):
    back = parse_set_text(write_set_text(RICH, fmt), fmt)
    if fmt == "promptfoo":
        assert caseless(back) == caseless(RICH)
        assert [(t.query, t.vars, t.ideal, t.split) for t in back] == [
            (t.query, t.vars, t.ideal, t.split) for t in RICH]
    else:
        assert back == RICH


def test_the_learn_format_reads_as_before():
    tasks = read_set_file(HOUSE)
    assert len(tasks) == 48 and all(len(t.checks) == 1 for t in tasks)
    assert {t.split for t in tasks} == {"train", "test"}
    assert parse_set_text(write_set_text(tasks, "jsonl"), "jsonl") == tasks


def test_promptfoo_files_as_promptfoo_writes_them():
    text = """
description: mine
tests:
  - vars: {query: "How far is Rome from Milan?"}
    assert:
      - type: icontains
        value: km
  - vars:
      query: Capital of France?
    assert:
      - {type: starts-with, value: "ANSWER:"}
      - {type: is-json}
"""
    tasks = parse_set_text(text, "promptfoo")
    assert [t.checks for t in tasks] == [[make_check("contains", "km")],
                                         [make_check("starts_with", "ANSWER:"), make_check("json")]]
    with pytest.raises(ImportFormatError, match=r"^Line 13: .*similar"):  # the third test's line
        parse_set_text(text + "  - vars: {query: q}\n    assert: [{type: similar, value: x}]\n", "promptfoo")
    with pytest.raises(ImportFormatError, match="aliases"):
        parse_set_text("- &a {vars: {query: q}, assert: [{type: is-json}]}\n- *a\n", "promptfoo")


def test_csv_with_check_columns_and_promptfoo_expected_columns():
    text = ("query,city,contains,__expected,split\n"
            "How far is {{city}} from Rome?,Milan,km,max_words: 20,test\n"
            "Hello,,,icontains:hi,\n")
    tasks = parse_set_text(text, "csv")
    assert tasks[0].vars == {"city": "Milan"} and tasks[0].split == "test"
    assert tasks[0].checks == [make_check("contains", "km"), make_check("max_words", 20)]
    assert tasks[1].checks == [make_check("contains", "hi")] and tasks[1].split == "train"
    with pytest.raises(ImportFormatError, match=r"^Line 3: "):
        parse_set_text("query,regex\nok,^a\nbad,(\n", "csv")
    with pytest.raises(ImportFormatError, match=r"^Line 2: .*at least one check"):
        parse_set_text("query,ideal\nq,a\n", "csv")


def test_pasted_rows_become_cases_or_name_the_bad_row():
    rows = parse_pasted("query\tchecks\tideal\tsplit\nHow far?\tcontains: km\tAbout 5 km.\ttest\n"
                        "Hi\tmax_words: 5 | not_contains: rude\n")
    assert [t.query for t in rows] == ["How far?", "Hi"]
    assert checks_cell(rows[1]) == "max_words: 5 | not_contains: rude"
    with pytest.raises(ImportFormatError, match=r"^Row 2: "):
        parse_pasted("Fine\tcontains: x\nBroken\tregex: (\n")


def test_import_list_export_on_the_command_line(tmp_path):
    call_cli("tests", "import", str(HOUSE), "--name", "house")
    listed = call_cli("tests", "list", "--json").stdout
    assert json.loads(listed)[0]["cases"] == 48
    for ext in ("jsonl", "csv", "yaml"):
        out = tmp_path / f"house.{ext}"
        call_cli("tests", "export", "house", str(out))
        assert caseless(read_set_file(out)) == caseless(read_set_file(HOUSE))
    again = call_cli("tests", "import", str(HOUSE), "--name", "house", check=False)
    assert again.returncode == 1 and "already has" in again.stderr


def test_a_malformed_file_names_the_line_and_writes_nothing(tmp_path, ws):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "q", "contains": "km"}\n{"query": "q2", "regex": "("}\n')
    proc = call_cli("tests", "import", str(bad), "--name", "bad", check=False)
    assert proc.returncode == 1 and "Line 2:" in proc.stderr
    assert call_cli("tests", "list").stdout == ""
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("- vars: {query: q}\n  assert: [{type: contains, value: km}]\n- vars: [1\n")
    proc = call_cli("tests", "import", str(bad_yaml), "--name", "bad", check=False)
    assert proc.returncode == 1 and "Line " in proc.stderr
    unknown = call_cli("tests", "import", str(tmp_path / "x.txt"), "--name", "x", check=False)
    assert unknown.returncode == 1 and "format" in unknown.stderr
