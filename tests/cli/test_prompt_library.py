"""`workbench prompt` editing a document's examples, parameters and budget, and the document
library (new, list, switch, rename, duplicate, delete), end to end and in the store."""

import json

import pytest

from tests.conftest import call_cli as workbench
from workbench.cli.prompt import MAX_SEED, parse_param
from workbench.errors import WorkbenchError
from workbench.runtime.params import SamplingParams
from workbench.workspace import Workspace


def shown() -> dict:
    return json.loads(workbench("prompt", "show", "--json").stdout)


def version_count() -> int:
    return len(workbench("prompt", "versions").stdout.splitlines())


def failed(*args: str) -> str:
    """Run a command that must fail as a message, not a traceback; its stderr."""
    proc = workbench(*args, check=False)
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert proc.stderr.startswith("workbench: ") and "Traceback" not in proc.stderr
    return proc.stderr


# -- examples ----------------------------------------------------------------------


def test_examples_are_added_and_removed_by_their_shown_number():
    workbench("prompt", "add-example", "Hi", "Arr, matey!")
    workbench("prompt", "add-example", "Bye", "Fair winds!")
    assert "## example 2\nUser: Bye\nAssistant: Fair winds!" in workbench("prompt", "show").stdout
    before = version_count()
    workbench("prompt", "remove-example", "1")
    assert shown()["examples"] == [{"user": "Bye", "assistant": "Fair winds!"}]
    assert version_count() == before + 1  # each change is a version
    assert "+Assistant: Arr, matey!" in workbench("prompt", "diff", "1", "2").stdout


def test_removing_a_missing_example_says_how_many_there_are_and_changes_nothing():
    assert "has no examples" in failed("prompt", "remove-example", "1")
    workbench("prompt", "add-example", "Hi", "Hello!")
    workbench("prompt", "add-example", "Bye", "Goodbye!")
    before = version_count()
    assert "has 2 examples (numbers 1 to 2)" in failed("prompt", "remove-example", "3")
    assert "has 2 examples" in failed("prompt", "remove-example", "0")
    assert len(shown()["examples"]) == 2 and version_count() == before


def test_a_blank_example_is_refused():
    assert "blank" in failed("prompt", "add-example", "  ", "Hello!")
    assert shown()["examples"] == []


# -- sampling parameters and the lesson budget --------------------------------------


def test_set_param_values_land_where_chat_reads_them(workbench_home):
    workbench("prompt", "set-param", "temperature", "0.2")
    workbench("prompt", "set-param", "stop", '["\\nUser:", "###"]')
    workbench("prompt", "set-param", "seed", "42")
    workbench("prompt", "set-param", "seed", "null")
    workbench("prompt", "set-param", "top_k", "0")
    workbench("prompt", "set-param", "max_tokens", "64")
    params = shown()["params"]
    assert params == {"temperature": 0.2, "stop": ["\nUser:", "###"], "seed": None,
                      "top_k": 0, "max_tokens": 64}
    ws = Workspace.open()
    p = SamplingParams.from_dict(ws.prompts.load_draft(ws.prompts.active_id()).params)
    assert (p.temperature, p.stop, p.seed, p.top_k, p.max_tokens) == (
        0.2, ["\nUser:", "###"], None, 0, 64)
    assert p.top_p == SamplingParams().top_p  # untouched ones keep their defaults
    text = workbench("prompt", "show").stdout
    assert 'stop = ["\\nUser:", "###"]' in text and "top_p = 0.95 (default)" in text
    notes = workbench("prompt", "versions").stdout
    assert "set temperature to 0.2" in notes and "set seed to null" in notes


@pytest.mark.parametrize("name, text, why", [
    ("temperature", "NaN", "temperature is a number, 0 or more"),
    ("temperature", "Infinity", "temperature is a number"),
    ("temperature", "1e999", "temperature is a number"),
    ("temperature", "-0.1", "temperature is a number, 0 or more"),
    ("temperature", "hot", "temperature is a number"),
    ("temperature", "1" + "0" * 400, "temperature is a number"),
    ("top_p", "0", "above 0 and at most 1"),
    ("top_p", "1.5", "above 0 and at most 1"),
    ("top_p", "-Infinity", "above 0 and at most 1"),
    ("top_k", "40.5", "top_k is a whole number"),
    ("top_k", "true", "top_k is a whole number"),
    ("top_k", "-1", "top_k is a whole number"),
    ("min_p", "1.01", "min_p is a number from 0 to 1"),
    ("repeat_penalty", "0", "repeat_penalty is a number above 0"),
    ("max_tokens", "0", "from 1 to 1,000,000"),
    ("max_tokens", "1000001", "from 1 to 1,000,000"),
    ("max_tokens", "null", "from 1 to 1,000,000"),
    ("seed", "-1", "or null for a new random seed"),
    ("seed", str(2**32 - 1), "seed is a whole number from 0 to 4,294,967,294"),
    ("seed", "1.5", "seed is a whole number"),
    ("stop", "5", "stop is a list of non-empty strings"),
    ("stop", '[""]', "stop is a list of non-empty strings"),
    ("stop", '["ok", 3]', "stop is a list of non-empty strings"),
    ("stop", "null", "stop is a list of non-empty strings"),
])
def test_set_param_refuses_values_out_of_type_or_range(name, text, why):
    with pytest.raises(WorkbenchError, match=why):
        parse_param(name, text)


def test_set_param_parsing_edges():
    assert parse_param("temperature", "1") == 1.0 and isinstance(parse_param("temperature", "1"), float)
    assert parse_param("stop", "User:") == ["User:"]  # one string is a one-item list
    assert parse_param("stop", "[]") == []
    assert parse_param("seed", str(MAX_SEED)) == MAX_SEED
    assert parse_param("top_p", "1") == 1.0 and parse_param("min_p", "0") == 0.0


def test_a_refused_param_names_the_valid_ones_and_changes_nothing():
    workbench("prompt", "set-param", "temperature", "0.3")
    before = version_count()
    err = failed("prompt", "set-param", "temprature", "0.2")
    assert "There is no sampling parameter 'temprature'" in err
    assert all(f in err for f in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty",
                                  "max_tokens", "seed", "stop"))
    assert "not 'NaN'" in failed("prompt", "set-param", "temperature", "NaN")
    assert shown()["params"] == {"temperature": 0.3} and version_count() == before


def test_set_budget():
    workbench("prompt", "set-budget", "300")
    assert shown()["lesson_budget"] == 300
    assert "budget = 300 tokens" in workbench("prompt", "show").stdout
    for bad in ("0", "-5", "1000001"):
        assert "lesson budget is a number of tokens from 1 to 1,000,000" in failed(
            "prompt", "set-budget", bad)
    assert shown()["lesson_budget"] == 300


# -- the document library, end to end ------------------------------------------------


def listed() -> list[dict]:
    return json.loads(workbench("prompt", "list", "--json").stdout)


def test_library_new_switch_rename_duplicate_delete():
    assert [(d["name"], d["active"]) for d in listed()] == [("Untitled prompt", True)]
    new_id = int(workbench("prompt", "new", "Pirate").stdout)
    assert shown()["name"] == "Pirate"  # the new one is active
    workbench("prompt", "set-section", "role", "You are a pirate.")
    assert [(d["id"], d["active"], d["versions"]) for d in listed()] == [
        (1, False, 1), (new_id, True, 2)]
    assert "* 2    Pirate  (2 versions" in workbench("prompt", "list").stdout

    copy_id = int(workbench("prompt", "duplicate", str(new_id)).stdout)
    assert shown()["name"] == "Pirate"  # duplicating leaves the active one alone
    workbench("prompt", "switch", str(copy_id))
    copy = shown()
    assert copy["name"] == "Pirate (copy)"
    assert copy["sections"][0]["text"] == "You are a pirate."

    workbench("prompt", "rename", str(copy_id), "Sailor")
    assert shown()["name"] == "Sailor"
    assert [d["name"] for d in listed()] == ["Untitled prompt", "Pirate", "Sailor"]

    workbench("prompt", "delete", str(copy_id))  # the active one
    docs = listed()
    assert [d["id"] for d in docs] == [1, new_id]
    assert sum(d["active"] for d in docs) == 1
    workbench("prompt", "delete", "1")
    err = failed("prompt", "delete", str(new_id))
    assert "only prompt document" in err and "workbench prompt new NAME" in err
    assert [(d["name"], d["active"]) for d in listed()] == [("Pirate", True)]


def test_library_errors_are_messages_and_change_nothing():
    only = workbench("prompt", "new", "Only").stdout.strip()
    before = listed()
    assert [(d["id"], d["name"]) for d in before] == [(int(only), "Only")]
    assert "There is no prompt document 9." in failed("prompt", "switch", "9")
    assert "There is no prompt document 9." in failed("prompt", "rename", "9", "X")
    assert "There is no prompt document 9." in failed("prompt", "duplicate", "9")
    assert "There is no prompt document 9." in failed("prompt", "delete", "9")
    assert "blank" in failed("prompt", "new", "   ")
    assert "blank" in failed("prompt", "rename", only, "")
    assert "one line" in failed("prompt", "rename", only, "two\nlines")
    assert listed() == before


# -- the store -------------------------------------------------------------------------


def test_store_rename_changes_the_draft_and_makes_no_version(ws):
    doc_id = ws.prompts.active_id()
    ws.prompts.rename(doc_id, "  Tutor  ")
    assert ws.prompts.load_draft(doc_id).name == "Tutor"
    assert ws.prompts.documents()[0]["name"] == "Tutor"
    assert len(ws.prompts.versions(doc_id)) == 1


def test_store_duplicate_copies_the_unsaved_draft(ws):
    doc_id = ws.prompts.active_id()
    doc = ws.prompts.load_draft(doc_id)
    doc.set_section("role", "Draft text, never saved as a version.")
    doc.params["temperature"] = 0.1
    ws.prompts.save_draft(doc_id, doc)
    copy_id = ws.prompts.duplicate(doc_id)
    copy = ws.prompts.load_draft(copy_id)
    assert copy.name == "Untitled prompt (copy)"
    assert copy.section("role").text == "Draft text, never saved as a version."
    assert copy.params == {"temperature": 0.1}
    assert [v.note for v in ws.prompts.versions(copy_id)] == ["copy of “Untitled prompt”"]
    assert ws.prompts.active_id() == doc_id
    assert ws.prompts.load_draft(doc_id).name == "Untitled prompt"
    # A second copy, and a new prompt with a name in use, get names of their own.
    assert ws.prompts.load_draft(ws.prompts.duplicate(doc_id)).name == "Untitled prompt (copy) 2"
    assert ws.prompts.load_draft(ws.prompts.create()).name == "Untitled prompt 2"
    assert len({d["name"] for d in ws.prompts.documents()}) == len(ws.prompts.documents()) == 4


def test_store_delete_removes_versions_and_moves_the_active_one(ws):
    first = ws.prompts.active_id()
    second = ws.prompts.create()
    third = ws.prompts.create()
    doc = ws.prompts.load_draft(first)
    doc.set_section("role", "v2")
    ws.prompts.save_version(first, doc)
    # Timestamps have one-second resolution: make "most recently edited" unambiguous.
    ws.db["documents"].update(second, {"updated": "2999-01-01T00:00:00+00:00"})
    assert ws.prompts.delete(third) == first  # not the active one: the active one stays
    assert ws.prompts.delete(first) == second  # the active one: the most recently edited other
    assert ws.prompts.active_id() == second
    assert ws.prompts.versions(first) == []
    assert ws.db["versions"].count_where("document_id in (?, ?)", [first, third]) == 0
    with pytest.raises(WorkbenchError, match="only prompt document"):
        ws.prompts.delete(second)
    assert [d["id"] for d in ws.prompts.documents()] == [second]
    assert len(ws.prompts.versions(second)) == 1
    with pytest.raises(WorkbenchError, match="no prompt document 42"):
        ws.prompts.delete(42)


def test_store_set_active_refuses_an_unknown_document(ws):
    doc_id = ws.prompts.active_id()
    with pytest.raises(WorkbenchError, match="no prompt document 42"):
        ws.prompts.set_active(42)
    assert ws.prompts.active_id() == doc_id


def test_store_version_by_id(ws):
    doc_id = ws.prompts.active_id()
    v = ws.prompts.latest(doc_id)
    assert ws.prompts.version_by_id(v.id).number == 1
    assert ws.prompts.version_by_id(v.id + 100) is None
