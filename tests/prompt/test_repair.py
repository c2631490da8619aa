"""Bad values written straight into the database (by an older version, a hand edit, another
program) are repaired when a document or version is read, with notes saying what changed;
nothing that is stored makes the document unreadable."""

import json
import sqlite3

import pytest

from tests.conftest import run_cli
from workbench.errors import ImportFormatError, WorkbenchError
from workbench.prompt.document import PromptDocument, Section, document_from_data
from workbench.runtime.params import MAX_SEED, SamplingParams, check_params
from workbench.workspace import Workspace

HOSTILE_PARAMS = {"seed": 1234567890123, "temperature": float("nan"), "max_tokens": 1e308,
                  "top_p": "0.9", "stop": 5, "top_k": [1, 2], "min_p": True}
REPAIRED_PARAMS = {"seed": 1234567890123 % (MAX_SEED + 1), "max_tokens": 1_000_000, "top_p": 0.9,
                   "stop": []}


def write_sql(path, sql: str, *args) -> None:
    """Change the database as another program would: its own connection, committed."""
    con = sqlite3.connect(path)
    with con:
        con.execute(sql, args)
    con.close()


def stored(doc_data: dict) -> str:
    return json.dumps(doc_data)  # Python writes NaN as NaN, as an older version of the app did


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "wb.db"


def new_document(db_path) -> int:
    ws = Workspace.open(db_path)
    doc_id = ws.prompts.create(PromptDocument.default("Support bot"))
    ws.prompts.set_active(doc_id)
    return doc_id


def test_bad_sampling_values_in_the_draft_are_repaired_on_load(db_path):
    doc_id = new_document(db_path)
    data = PromptDocument.default("Support bot").to_data() | {"params": HOSTILE_PARAMS}
    write_sql(db_path, "update documents set draft = ? where id = ?", stored(data), doc_id)
    doc = Workspace.open(db_path).prompts.load_draft(doc_id)
    assert doc.params == REPAIRED_PARAMS
    assert check_params(doc.params) == doc.params
    for name in HOSTILE_PARAMS:  # one note per repaired setting, naming it
        assert sum(name in n for n in doc.notes) >= 1, name
    assert any("1234567890123" in n for n in doc.notes)
    p = SamplingParams.from_dict(doc.params)
    assert p.temperature == 0.7 and p.seed <= MAX_SEED  # NaN gave way to the default
    assert doc.name == "Support bot" and len(doc.sections) == 6  # the rest is kept as it was


def test_bad_document_fields_are_repaired_on_load(db_path):
    doc_id = new_document(db_path)
    data = {"name": "Two\nlines", "sections": [{"name": "role", "text": 5, "enabled": "yes"},
                                               "not a section", {"text": "no name"}],
            "examples": [{"user": "hi"}, 7], "variables": {"x": 5, "y": None},
            "lesson_budget": -5, "retrieval_k": 10**6, "params": [1, 2], "future_field": 1}
    write_sql(db_path, "update documents set draft = ? where id = ?", stored(data), doc_id)
    doc = Workspace.open(db_path).prompts.load_draft(doc_id)
    assert doc.name == "Two lines"
    assert doc.sections == [Section("role", "5", True), Section("", "no name", True)]
    assert [(e.user, e.assistant) for e in doc.examples] == [("hi", "")]
    assert doc.variables == {"x": "5", "y": ""}
    assert (doc.lesson_budget, doc.retrieval_k, doc.params) == (1, 100, {})
    for field in ("name", "sections[0].text", "sections[0].enabled", "sections[1]",
                  "examples[1]", "variables['x']", "lesson_budget", "retrieval_k", "params"):
        assert any(f"document's {field} was" in n or "settings were" in n for n in doc.notes), field
    # What was repaired now fits the schema exactly.
    assert document_from_data(doc.to_data(), strict=True).to_json() == doc.to_json()


def test_versions_are_repaired_on_read_and_a_restore_saves_the_repair(db_path):
    doc_id = new_document(db_path)
    store = Workspace.open(db_path).prompts
    later = store.load_draft(doc_id)
    later.params = {"temperature": 0.2}
    store.save_version(doc_id, later)
    data = PromptDocument.default("Support bot").to_data() | {"params": HOSTILE_PARAMS}
    write_sql(db_path, "update versions set content = ? where document_id = ? and number = 1",
              stored(data), doc_id)
    store = Workspace.open(db_path).prompts
    v1, v2 = store.versions(doc_id)
    assert v1.document.params == REPAIRED_PARAMS and v1.document.notes
    assert v2.document.params == {"temperature": 0.2} and v2.document.notes == []
    assert store.version(doc_id, 1).document.params == REPAIRED_PARAMS
    restored = store.restore(doc_id, 1)
    assert restored.number == 3 and store.load_draft(doc_id).params == REPAIRED_PARAMS
    row = next(store.db.query("select content from versions where id = ?", [restored.id]))
    again = PromptDocument.from_json(row["content"])
    assert again.params == REPAIRED_PARAMS and again.notes == []  # stored valid this time


def test_a_draft_that_is_not_json_opens_the_newest_readable_version(db_path):
    doc_id = new_document(db_path)
    store = Workspace.open(db_path).prompts
    doc = store.load_draft(doc_id)
    doc.set_section("role", "You are a pirate.")
    store.save_version(doc_id, doc)
    write_sql(db_path, "update documents set draft = ? where id = ?", '{"name": "half a wr', doc_id)
    opened = Workspace.open(db_path).prompts.load_draft(doc_id)
    assert opened.section("role").text == "You are a pirate."
    assert "draft" in opened.notes[0] and "version 2" in opened.notes[0]


def test_deep_or_damaged_content_everywhere_still_opens(db_path):
    doc_id = new_document(db_path)
    deep = "[" * 100_000 + "]" * 100_000
    write_sql(db_path, "update documents set draft = ? where id = ?", deep, doc_id)
    write_sql(db_path, "update versions set content = ? where document_id = ?", "null", doc_id)
    store = Workspace.open(db_path).prompts
    doc = store.load_draft(doc_id)
    assert doc.name == "Support bot" and len(doc.sections) == 6  # the defaults, under its name
    assert "none of its versions" in doc.notes[0]
    (v1,) = store.versions(doc_id)  # listing goes on past it
    assert v1.damaged and "damaged" in v1.document.notes[0]
    with pytest.raises(WorkbenchError, match="Version 1 .* is damaged"):
        store.restore(doc_id, 1)
    doc.set_section("role", "Recovered.")
    assert store.save_version(doc_id, doc).number == 2  # saving works again
    assert store.load_draft(doc_id).notes == []


def test_strict_reading_names_the_field(db_path):
    for data, field in (({"name": ""}, "name"), ({"sections": [{"name": "a", "text": 1}]},
                                                 "sections[0].text"),
                        ({"lesson_budget": 0}, "lesson_budget"), ({"retrieval_k": 1.5}, "retrieval_k"),
                        ({"params": {"seed": -1}}, "params.seed"), ({"variables": {"a": 1}},
                                                                      "variables['a']")):
        with pytest.raises(ImportFormatError, match=field.replace("[", r"\[")):
            document_from_data(data, strict=True, error=ImportFormatError)


def test_the_cli_shows_the_repair_and_the_next_version_keeps_it(workbench_home):
    run_cli("prompt", "new", "Support bot")
    db = workbench_home / "workbench.db"
    doc_id = Workspace.open(db).prompts.active_id()
    data = PromptDocument.default("Support bot").to_data() | {"params": HOSTILE_PARAMS}
    write_sql(db, "update documents set draft = ? where id = ?", stored(data), doc_id)
    shown = run_cli("prompt", "show")
    assert "note: Sampling setting seed was 1234567890123" in shown.stderr
    assert f"seed = {1234567890123 % (MAX_SEED + 1)}" in shown.stdout
    assert "temperature = 0.7 (default)" in shown.stdout and "Traceback" not in shown.stderr
    run_cli("prompt", "set-param", "temperature", "0.3")
    again = run_cli("prompt", "show")
    assert "note:" not in again.stderr and "temperature = 0.3" in again.stdout
