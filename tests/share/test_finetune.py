"""Fine-tuning JSONL from a real workspace: only answers the user accepted are trained on, each
with the system prompt and examples it was generated under, minus the notebook's lessons."""

import json

import jsonschema
import pytest

from tests.conftest import GREEDY, call_cli
from tests.fakes import FakeEngine
from tests.share.test_exporters import schema
from workbench.chat.session import ChatSession
from workbench.cli.chat import _unreviewed
from workbench.prompt.document import Example, Section
from workbench.runtime.params import RunStats
from workbench.share.builder import build_export_input
from workbench.share.exporters import export
from workbench.workspace import Workspace

DEMO = ("What is the capital of Peru?", "ANSWER: Lima.")


def window_turn(session: ChatSession, question: str, answer: str) -> None:
    """What the window does: candidates are planned and logged, the user accepts one."""
    session.plan(session.send(question))
    session.log_candidate(0, GREEDY, answer, RunStats())
    session.accept(answer)


def lines(ws: Workspace):
    doc = ws.prompts.load_draft(ws.prompts.active_id())
    out = export("finetune-jsonl", build_export_input(ws, doc))
    return [json.loads(line) for line in out.text.splitlines()], " ".join(out.warnings)


def test_only_accepted_answers_under_the_prompt_they_were_generated_under(ws):
    doc_id = ws.prompts.active_id()
    doc = ws.prompts.load_draft(doc_id)
    doc.sections = [Section("role", "You are a geography tutor.")]
    doc.examples = [Example("How far is Rome from Milan?", "About 480 km.")]
    ws.prompts.save_draft(doc_id, doc)
    ws.notebook.add("When asked for a capital, begin with ANSWER:.", pinned=True, demo=DEMO)
    session = ChatSession(ws, FakeEngine(answers=["Pepé is the capital of Peru."]))
    window_turn(session, "What is the capital of France?", "ANSWER: Paris.")
    # The prompt changes afterwards; a command-line chat answers a question unreviewed.
    session.document.sections = [Section("role", "You are a pirate.")]
    session.save_draft()
    session.new_conversation()
    "".join(str(p) for p in session.ask("What is the capital of Peru?", GREEDY))
    _unreviewed(session)
    found, notes = lines(ws)
    assert len(found) == 1
    messages = found[0]["messages"]
    jsonschema.validate(found[0], schema("finetune_line"))
    assert messages[0] == {"role": "system", "content": "You are a geography tutor."}  # no lessons
    assert messages[1:3] == [{"role": "user", "content": "How far is Rome from Milan?"},
                             {"role": "assistant", "content": "About 480 km.", "weight": 0}]
    assert DEMO[0] not in json.dumps(messages)  # the lesson's demonstration is the notebook's
    assert messages[3:] == [{"role": "user", "content": "What is the capital of France?"},
                            {"role": "assistant", "content": "ANSWER: Paris."}]
    assert "Pepé" not in json.dumps(found) and "1 conversation(s) with no accepted answer" in notes


def test_a_retrieved_lessons_exchange_is_neither_trained_on_nor_a_few_shot_example(ws):
    """Retrieved lessons sit between the conversation so far and the question (compose)."""
    ws.notebook.add("When asked for a capital, begin with ANSWER:.", demo=DEMO)  # retrieved only
    session = ChatSession(ws, FakeEngine(answers=["ANSWER: Paris.", "ANSWER: Rome."]))
    window_turn(session, "What is the capital of France?", "ANSWER: Paris.")
    window_turn(session, "And the capital of Italy?", "ANSWER: Rome.")
    run = ws.runs.get(session.last_run_id)
    assert any(DEMO[0] in m["content"] for m in run["messages"])  # it was in the prompt
    found, _ = lines(ws)
    messages = found[0]["messages"]
    assert DEMO[0] not in json.dumps(messages)
    assert [m["content"] for m in messages if m["role"] != "system"] == [
        "What is the capital of France?", "ANSWER: Paris.", "And the capital of Italy?", "ANSWER: Rome."]
    doc = ws.prompts.load_draft(ws.prompts.active_id())
    built = build_export_input(ws, doc, query="What is the capital of Spain?")
    assert built.few_shot == [] and any(DEMO[0] in m["content"] for m in built.messages)


def test_an_edited_answer_counts_as_accepted_and_the_current_prompt_stands_in(ws):
    session = ChatSession(ws, FakeEngine(answers=["Wrong."]))
    "".join(str(p) for p in session.ask("What is 2 + 2?", GREEDY))
    _unreviewed(session)
    assert lines(ws)[0] == []
    answer = session.ws.conversations.path(session.conversation_id)[-1]
    ws.conversations.edit(answer.id, "4.")  # the user corrected it: now it is theirs
    found, notes = lines(ws)
    assert found[0]["messages"][-1] == {"role": "assistant", "content": "4."}
    assert "current system prompt and examples stand in" in notes


@pytest.mark.model
def test_a_cli_chat_answer_is_not_trained_on(tmp_path):
    call_cli("chat", "--max-tokens", "8", "What is the capital of Peru?")
    ws = Workspace.open()
    assert len(ws.conversations.conversations()) == 1
    found, notes = lines(ws)
    assert found == [] and "No accepted answers yet" in notes
