"""What Send, Regenerate, Accept, edit, branch and compare do, decided without Qt or a model."""

import pytest

from tests.fakes import FakeEngine
from workbench.chat.session import ChatSession
from workbench.errors import WorkbenchError
from workbench.prompt.document import Section
from workbench.runtime.params import SamplingParams


@pytest.fixture
def session(ws):
    return ChatSession(ws, FakeEngine())


def contents(session):
    return [(m["role"], m["content"]) for m in session.history()]


def test_send_then_accept_puts_question_and_answer_in_the_conversation(session):
    pending = session.send("  What is 2 + 2?  ")
    assert pending.kind == "new" and pending.user_text == "What is 2 + 2?"
    assert pending.composition.messages[-1] == {"role": "user", "content": "What is 2 + 2?"}
    assert [c.label for c in session.plan(pending, samples=3)] == ["Candidate 1", "Candidate 2", "Candidate 3"]
    session.accept(" Four. ")
    assert contents(session) == [("user", "What is 2 + 2?"), ("assistant", "Four.")]
    assert session.pending is None and session.candidates == []
    with pytest.raises(WorkbenchError, match="no answer waiting"):
        session.accept("again")


def test_empty_text_sends_nothing(session):
    assert session.send("   ") is None


def test_no_model_or_a_full_context_is_refused_with_what_to_do(ws):
    session = ChatSession(ws, FakeEngine(n_ctx=60))
    session.model_ready = False
    pending = session.send("Hello")
    with pytest.raises(WorkbenchError, match="No model is loaded"):
        session.plan(pending)
    session.model_ready = True
    session.document.sections = [Section("role", "word " * 80)]
    with pytest.raises(WorkbenchError, match="context is full.*Shorten the prompt"):
        session.plan(session.send("Hello"))
    assert session.pending is None


def test_regenerate_forks_the_last_answer_and_accepting_adds_a_branch(session, ws):
    session.plan(session.send("Name a colour."))
    session.accept("Red.")
    pending = session.regenerate()
    assert pending.kind == "regen" and pending.user_text == "Name a colour."
    assert pending.conversation == [{"role": "user", "content": "Name a colour."}]
    session.plan(pending)
    session.accept("Blue.")
    assert contents(session) == [("user", "Name a colour."), ("assistant", "Blue.")]
    answer = ws.conversations.path(session.conversation_id)[-1]
    assert len(ws.conversations.siblings(answer.id)) == 2


def test_regenerate_answers_a_question_left_unanswered(session, ws):
    ws.conversations.append(session.ensure_conversation(), "user", "Still there?")
    pending = session.regenerate()
    assert pending.kind == "reply" and pending.user_text == "Still there?"
    session.plan(pending)
    session.accept("Yes.")
    assert contents(session) == [("user", "Still there?"), ("assistant", "Yes.")]


def test_regenerate_on_an_empty_conversation_repeats_the_pending_request(session):
    assert session.regenerate() is None
    pending = session.send("Hi")
    session.plan(pending)
    assert session.regenerate() is pending


def test_edit_rewrites_a_message_in_place(session, ws):
    session.plan(session.send("Wrong question"))
    session.accept("An answer.")
    first = ws.conversations.path(session.conversation_id)[0]
    assert session.start_edit("edit", first.id) == "Wrong question"
    assert session.send("Right question") is None
    assert session.edit_mode is None
    assert contents(session)[0] == ("user", "Right question")
    assert len(contents(session)) == 2


def test_branching_a_question_asks_for_answers_to_the_new_one(session, ws):
    session.plan(session.send("First question"))
    session.accept("First answer.")
    first = ws.conversations.path(session.conversation_id)[0]
    session.start_edit("branch", first.id)
    pending = session.send("Another question")
    assert pending.kind == "reply" and pending.conversation[-1]["content"] == "Another question"
    session.plan(pending)
    session.accept("Another answer.")
    assert contents(session) == [("user", "Another question"), ("assistant", "Another answer.")]
    assert len(ws.conversations.siblings(first.id)) == 2
    session.switch_branch(first.id)
    assert contents(session) == [("user", "First question"), ("assistant", "First answer.")]


def test_leaving_edit_mode_sends_normally(session, ws):
    session.plan(session.send("Q"))
    session.accept("A")
    first = ws.conversations.path(session.conversation_id)[0]
    session.start_edit("edit", first.id)
    session.start_edit("edit", None)
    assert session.send("New question").kind == "new"


def test_delete_removes_the_message_and_what_follows(session):
    session.plan(session.send("Q1"))
    session.accept("A1")
    session.plan(session.send("Q2"))
    session.accept("A2")
    shown = session.shown_messages()
    session.delete_message(shown[2].message.id)
    assert contents(session) == [("user", "Q1"), ("assistant", "A1")]


def test_compare_the_draft_with_a_saved_version(session):
    session.document.sections = [Section("role", "You are terse.")]
    v = session.save_version()
    session.document.sections = [Section("role", "You are chatty.")]
    assert (f"draft vs version {v.number}", v.number) in session.compare_choices([])
    draft, old = session.plan(session.send("Hi"), compare=v.number)
    assert (draft.label, old.label) == ("Current draft", f"Version {v.number}")
    assert "chatty" in draft.composition.system_prompt and "terse" in old.composition.system_prompt
    assert old.version.id == v.id and draft.version is None


def test_compare_choices_list_other_models_but_not_the_loaded_one(session):
    choices = dict((data, label) for label, data in
                   session.compare_choices([session.engine.info.path, "/m/other.gguf", None])
                   if not isinstance(data, int))
    assert choices == {None: "samples of this prompt", "/m/other.gguf": "this model vs other.gguf"}


def test_majority_needs_three_samples_of_one_prompt(session):
    assert session.majority(["7", "7"], None, None) is None
    assert session.majority(["7", "7", "3"], 1, None) is None
    result = session.majority(["It is 7", "7", "maybe 3"], None, None)
    assert result.winner == "7" and result.count == 2


def test_candidates_are_logged_with_the_version_they_came_from(session, ws):
    session.document.sections = [Section("role", "Version one.")]
    v = session.save_version()
    session.document.sections = [Section("role", "Draft.")]
    session.plan(session.send("Hi"), compare=v.number)
    params = SamplingParams(temperature=0)
    stats = next(i for i in session.engine.stream_chat([]) if not isinstance(i, str))
    draft_run = ws.runs.get(session.log_candidate(0, params, "from the draft", stats))
    version_run = ws.runs.get(session.log_candidate(1, params, "from v1", stats))
    assert draft_run["version_id"] is None and version_run["version_id"] == v.id
    assert "Version one." in version_run["rendered_prompt"]
    assert draft_run["model_sha256"] is None  # hashed later, off the window's thread
    ws.runs.remember_sha256(session.engine.info.path, "f" * 64)
    assert ws.runs.get(draft_run["id"])["model_sha256"] == "f" * 64


def test_ask_streams_stores_the_turn_and_logs_the_run(ws):
    session = ChatSession(ws, FakeEngine(answers=["Paris is the capital."]))
    text = "".join(i for i in session.ask("Capital of France?", SamplingParams()) if isinstance(i, str))
    assert text.strip() == "Paris is the capital."
    assert contents(session) == [("user", "Capital of France?"), ("assistant", "Paris is the capital.")]
    assert ws.runs.get(session.last_run_id)["output"] == "Paris is the capital."


def test_over_budget_pinned_lessons_are_demoted_with_a_message(session, ws):
    session.document.lesson_budget = 12
    for text in ("When asked for distances, answer in kilometres.",
                 "When asked about capitals, start with ANSWER:."):
        ws.notebook.add(text, pinned=True)
    message = session.enforce_budget()
    assert "outgrew their 12-token budget" in message and "#2" in message
    assert [l.id for l in ws.notebook.pinned()] == [1]
    assert session.enforce_budget() == ""


def test_opening_a_document_saves_the_draft_first(session, ws):
    first = session.document_id
    session.document.sections = [Section("role", "Unsaved edit.")]
    other = ws.prompts.create()
    session.open_document(other)
    assert ws.prompts.active_id() == other and session.document_id == other
    assert ws.prompts.load_draft(first).sections[0].text == "Unsaved edit."


def test_import_opens_the_file_as_a_new_document(session, ws, tmp_path):
    good = tmp_path / "preset.json"
    good.write_text('{"model": "m", "messages": [{"role": "system", "content": "Be brief."}]}')
    doc = session.import_file(good)
    assert session.document_id == ws.prompts.active_id() != 1
    assert "Be brief." in session.preview()[1] and doc.name
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(WorkbenchError, match="bad.json was not imported"):
        session.import_file(bad)
    with pytest.raises(WorkbenchError, match="Cannot read"):
        session.import_file(tmp_path / "missing.json")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(WorkbenchError, match="not UTF-8"):
        session.import_file(binary)


def test_an_unknown_conversation_id_starts_a_new_conversation(ws):
    session = ChatSession(ws, FakeEngine(), conversation_id=999)
    assert session.conversation_id != 999 and session.history() == []


def test_preview_reports_unknown_variables(session):
    session.document.sections = [Section("role", "Hello {{nobody}}.")]
    _, shown = session.preview("typed question")
    assert "[unknown variables, left as written: {{nobody}}]" in shown


def test_saving_an_empty_edit_keeps_editing(session, ws):
    session.plan(session.send("Q"))
    session.accept("A")
    first = ws.conversations.path(session.conversation_id)[0]
    session.start_edit("edit", first.id)
    assert session.send("   ") is None
    assert session.edit_mode == ("edit", first.id) and contents(session)[0] == ("user", "Q")


class FailingEngine(FakeEngine):
    def stream_chat(self, messages, params=None, json_schema=None):
        raise WorkbenchError("The prompt is 9,999 tokens but the context holds 2,048.")


def test_a_chat_that_fails_leaves_no_empty_conversation(ws):
    session = ChatSession(ws, FailingEngine())
    with pytest.raises(WorkbenchError, match="context holds"):
        list(session.ask("Hello?", SamplingParams()))
    assert ws.conversations.conversations() == [] and ws.runs.recent() == []
    session.new_conversation()
    assert session.history() == [] and ws.conversations.conversations() == []


def test_an_answer_made_while_another_program_holds_the_database_is_kept(ws):
    import sqlite3
    import threading
    ws.db.busy_wait = 0.2  # each try gives up quickly, so the test waits for the retries
    ws.db.conn.execute("PRAGMA busy_timeout = 100")
    session = ChatSession(ws, FakeEngine(answers=["Kept."]))
    other = sqlite3.connect(ws.db.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock for about a second
    threading.Timer(1.0, lambda: other.execute("COMMIT")).start()
    waits = []
    text = "".join(i for i in session.ask("Still there?", SamplingParams(), waits.append)
                   if isinstance(i, str))
    assert text.strip() == "Kept." and waits and "busy" in str(waits[0])
    assert contents(session) == [("user", "Still there?"), ("assistant", "Kept.")]
    assert ws.runs.get(session.last_run_id)["output"] == "Kept."


def test_a_model_whose_chat_template_was_refused_answers_through_urial(ws):
    engine = FakeEngine()
    engine.chat_problem = "its chat template took longer than 1 s"
    session = ChatSession(ws, engine)
    assert session.mode.name == "urial" and "took longer than 1 s" in session.mode.reason
    session.mode_choice = "raw"
    assert session.mode.name == "raw"  # the user's own choice still wins
