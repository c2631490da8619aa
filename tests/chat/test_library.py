"""The prompt library's logic: documents, conversations, the trash, version diffs, the run log's
filters and re-runs, on a real SQLite file with the stand-in engine."""

from datetime import UTC, datetime

import pytest

from tests.fakes import FakeEngine
from workbench.chat.library import DRAFT, Library, diff_summary, document_text, side_by_side, when
from workbench.chat.session import ChatSession
from workbench.errors import WorkbenchError
from workbench.prompt.document import Example
from workbench.runtime.params import RunStats, SamplingParams


@pytest.fixture
def session(ws):
    return ChatSession(ws, FakeEngine())


@pytest.fixture
def lib(ws):
    return Library(ws)


def chat(session, question, answer):
    session.plan(session.send(question))
    session.accept(answer)


def test_documents_are_listed_by_name_and_found_by_words(ws, lib):
    ws.prompts.active_id()
    tutor = lib.create_document("Maths tutor")
    lib.create_document("Pirate")
    assert [d["name"] for d in lib.documents()] == ["Maths tutor", "Pirate", "Untitled prompt"]
    assert [d["id"] for d in lib.documents("TUTOR maths")] == [tutor]
    assert lib.documents("nothing like it") == []
    with pytest.raises(WorkbenchError, match="blank"):
        lib.create_document("  ")


def test_deleting_a_document_conversation_or_message_is_undone_by_restore(ws, lib, session):
    chat(session, "What is a haiku?", "A short poem.")
    chat(session, "And a limerick?", "A funny poem.")
    cid = session.conversation_id
    first_answer = session.shown_messages()[1].message.id
    deleted = lib.delete_message(first_answer)
    assert deleted.message == "Deleted the message and the 2 messages after it."
    assert [m["content"] for m in session.history()] == ["What is a haiku?"]
    entry = lib.restore(deleted.trash_id)
    assert entry["kind"] == "messages" and entry["conversation_id"] == cid
    assert len(session.history()) == 4

    deleted = lib.delete_conversation(cid)
    assert deleted.message == "Deleted the conversation “What is a haiku?”."
    assert lib.conversations(session.document_id) == []
    assert [t["id"] for t in lib.trash()] == [deleted.trash_id]  # the restored one is gone from it
    lib.restore(deleted.trash_id)
    assert [c.id for c in lib.conversations(session.document_id)] == [cid]

    other = lib.create_document("Other")
    theirs = ws.conversations.create(document_id=other)
    ws.conversations.append(theirs, "user", "A question for the other prompt")
    assert theirs in [c.id for c in lib.conversations(None)]
    deleted, active = lib.delete_document(other)
    assert theirs not in [c.id for c in lib.conversations(None)]  # gone with its prompt
    assert deleted.message == "Deleted the prompt “Other”." and active == session.document_id
    assert other not in [d["id"] for d in lib.documents()]
    assert lib.restore(deleted.trash_id)["item_id"] == other
    assert other in [d["id"] for d in lib.documents()]
    assert theirs in [c.id for c in lib.conversations(None)]
    assert lib.trash() == []


def test_conversation_list_titles_and_search_by_any_message(lib, session):
    chat(session, "Plan a trip to Lisbon\nwith two days", "Start at the Alfama district.")
    lisbon = session.conversation_id
    session.new_conversation()
    chat(session, "What is sourdough?", "Bread leavened by wild yeast.")
    items = lib.conversations(session.document_id)
    assert [i.title for i in items] == ["What is sourdough?", "Plan a trip to Lisbon"]
    assert items[0].detail.startswith("2 messages · ")
    found = lib.conversations(session.document_id, "alfama")
    assert [i.id for i in found] == [lisbon] and "[Alfama]" in found[0].detail
    assert lib.conversations(session.document_id + 1) == []
    empty = session.ws.conversations.create(document_id=session.document_id)  # nothing accepted
    assert empty not in [i.id for i in lib.conversations(session.document_id)]
    assert lib.conversations(session.document_id, keep=empty)[0].title == "(no messages yet)"


def test_open_conversation_continues_it_and_drops_the_candidates(session):
    chat(session, "Hello", "Hi")
    old = session.conversation_id
    session.new_conversation()
    session.plan(session.send("Another"))
    session.open_conversation(old)
    assert session.conversation_id == old and session.pending is None and session.candidates == []
    assert [m["content"] for m in session.history()] == ["Hello", "Hi"]
    with pytest.raises(WorkbenchError, match="no conversation 999"):
        session.open_conversation(999)
    assert session.conversation_id == old


def test_side_by_side_pairs_changed_lines_and_marks_the_changed_words():
    rows = side_by_side("keep\nYou are a pirate.\ngone\nend\n", "keep\nYou are a poet.\nend\nnew\n")
    assert [(r.tag, r.left, r.right) for r in rows] == [
        ("equal", "keep", "keep"), ("replace", "You are a pirate.", "You are a poet."),
        ("delete", "gone", None), ("equal", "end", "end"), ("insert", None, "new")]
    changed = rows[1]
    same = len("You are a ")  # only the last word differs: only it is marked, on both sides
    assert changed.left_spans and all(a >= same for a, b in changed.left_spans)
    assert changed.right_spans and all(a >= same for a, b in changed.right_spans)
    assert diff_summary(rows) == "1 line changed · 1 added · 1 removed"
    assert diff_summary(side_by_side("same\n", "same\n")) == "No differences"


def test_document_text_shows_sections_examples_and_sampling(ws):
    doc = ws.prompts.load_draft(ws.prompts.active_id())
    doc.set_section("role", "You are terse.")
    doc.section("tools").enabled = False
    doc.examples.append(Example("Hi", "Hello."))
    doc.params["temperature"] = 0.3
    text = document_text(doc)
    assert "## role\nYou are terse.\n" in text and "## tools (disabled)" in text
    assert "## example 1\nUser: Hi\nAssistant: Hello." in text and "temperature = 0.3" in text


def test_a_version_into_the_draft_keeps_the_name_and_diffs_against_the_draft(ws, lib, session):
    session.document.set_section("role", "Version one role.")
    session.save_version("first words")
    session.document.set_section("role", "Draft role.")
    session.document.name = "Renamed"
    label, text = lib.side_text(session.document_id, 2, session.document)
    assert label.startswith("Version 2 · first words · ") and "Version one role." in text
    assert lib.side_text(session.document_id, DRAFT, session.document)[0] == "Current draft"
    doc = lib.version_into_draft(session.document_id, 2, session.document)
    assert doc.section("role").text == "Version one role." and doc.name == "Renamed"
    assert [v.number for v in lib.versions(session.document_id)] == [2, 1]  # newest first


def test_when_reads_like_a_clock_today_and_a_date_before():
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert ":" in when("2026-12-01T11:59:00+00:00", now) and len(when("2026-12-01T11:59:00+00:00", now)) == 5
    assert "2025" in when("2025-01-02T10:00:00+00:00", now)
    assert when("not a time") == "not a time" and when(None) == ""


def test_run_log_filters_by_version_model_and_rating(ws, session):
    stats = RunStats(prompt_tokens=5, completion_tokens=2)
    session.document.set_section("role", "An unsaved draft.")
    pending = session.send("Hi")
    session.plan(pending)
    draft_run = session.log_candidate(0, SamplingParams(), "Hello", stats)
    v2 = session.save_version("saved")
    session.plan(pending)
    saved_run = session.log_candidate(0, SamplingParams(temperature=0.2), "Hey", stats)
    ws.runs.rate(saved_run, 1)
    runs = ws.runs
    assert [r["id"] for r in runs.find(session.document_id)] == [saved_run, draft_run]
    assert [r["id"] for r in runs.find(version=v2.number)] == [saved_run]
    assert runs.find(version=v2.number)[0]["version_number"] == v2.number
    assert [r["id"] for r in runs.find(version="draft")] == [draft_run]
    assert [r["id"] for r in runs.find(rating=1)] == [saved_run]
    assert [r["id"] for r in runs.find(rating="none")] == [draft_run]
    assert runs.find(rating=-1) == [] and runs.find(model_name="Other") == []
    assert runs.model_names(session.document_id) == ["Fake chat"]


def test_rerun_asks_the_logged_messages_again_with_their_version_and_params(ws, session):
    session.document.set_section("role", "You are brief.")
    version = session.save_version()
    pending = session.send("Name a colour.")
    session.plan(pending)
    run_id = session.log_candidate(0, SamplingParams(temperature=0.4, seed=7), "Red.", RunStats())
    session.document.set_section("role", "Changed since.")
    again = session.rerun(run_id)
    assert again.kind == "rerun" and again.params["temperature"] == 0.4
    assert again.composition.messages == ws.runs.get(run_id)["messages"]
    assert "You are brief." in again.composition.messages[0]["content"]
    candidates = session.plan(again, compare=1, samples=2)  # a re-run compares with nothing
    assert [c.version.number for c in candidates] == [version.number, version.number]
    assert session.log_candidate(0, SamplingParams(), "Blue.", RunStats()) != run_id
    assert ws.runs.get(session.last_run_id)["version_id"] == version.id
    with pytest.raises(WorkbenchError, match="belong to no conversation"):
        session.accept("Blue.")
    with pytest.raises(WorkbenchError, match="no run 999"):
        session.rerun(999)


def test_the_trash_from_the_command_line():
    from tests.conftest import call_cli
    from workbench.workspace import Workspace
    ws = Workspace.open()
    lib = Library(ws)
    ws.prompts.active_id()
    deleted, _ = lib.delete_document(lib.create_document("Old experiment"))
    assert call_cli("prompt", "trash").stdout.split()[2:] == ["prompt", "Old", "experiment"]
    done = call_cli("prompt", "undelete", str(deleted.trash_id))
    assert "Restored the prompt “Old experiment”." in done.stderr
    assert "The trash is empty." in call_cli("prompt", "trash").stderr
    again = call_cli("prompt", "undelete", str(deleted.trash_id), check=False)
    assert again.returncode != 0 and "already restored" in again.stderr
