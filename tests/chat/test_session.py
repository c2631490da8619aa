"""A chat through the active prompt document with lessons, on the real model and a real file."""

import hashlib
from dataclasses import replace

import pytest

from tests.conftest import GREEDY
from workbench.chat.session import ChatSession
from workbench.errors import WorkbenchError

SHORT = replace(GREEDY, seed=3, max_tokens=32, repeat_penalty=1.1)


def answer(session, text):
    items = list(session.ask(text, SHORT))
    return "".join(i for i in items if isinstance(i, str)), items[-1]


def test_run_is_logged_with_everything_needed_to_reproduce_it(ws, chat_engine, chat_model_path):
    pinned = ws.notebook.add("Always end your reply with the word DONE.", pinned=True).lesson
    session = ChatSession(ws, chat_engine)
    text, stats = answer(session, "What is the capital of France?")
    run = ws.runs.get(session.last_run_id)
    assert run["output"] == text and run["stats"]["completion_tokens"] == stats.completion_tokens
    assert run["model_file"] == chat_model_path.name
    assert run["model_sha256"] == hashlib.sha256(chat_model_path.read_bytes()).hexdigest()
    assert run["lesson_ids"] == [pinned.id]
    assert "- Always end your reply with the word DONE." in run["rendered_prompt"]
    assert run["rendered_prompt"].startswith("<|im_start|>system\n")
    assert run["version_id"] == ws.prompts.latest(session.document_id).id
    assert run["params"]["temperature"] == 0
    ws.runs.rate(session.last_run_id, -1, "too long")
    assert ws.runs.get(session.last_run_id)["comment"] == "too long"
    with pytest.raises(WorkbenchError):
        ws.runs.rate(session.last_run_id, 5)
    # The turn is in the conversation, searchable.
    assert [m.role for m in ws.conversations.path(session.conversation_id)] == ["user", "assistant"]
    assert ws.conversations.search("capital France")[0]["conversation_id"] == session.conversation_id


def test_retrieved_lesson_does_not_break_the_cached_prefix(ws, chat_engine):
    doc_id = ws.prompts.active_id()
    doc = ws.prompts.load_draft(doc_id)
    doc.set_section("guidelines", " ".join(f"Guideline {i}: be clear and kind." for i in range(60)))
    ws.prompts.save_version(doc_id, doc)
    ws.notebook.add("When you give a distance, use kilometres.", tags=["units"])
    session = ChatSession(ws, chat_engine)
    chat_engine._llm.reset()
    answer(session, "Say hello.")
    assert session.last_composition.lessons_retrieved == []
    _, second = answer(session, "What distance is it from Paris to Rome?")
    assert session.last_composition.lessons_retrieved != []  # the lesson came along...
    system_tokens = chat_engine.count_chat_tokens(session.last_composition.messages[:1])
    assert system_tokens > 400
    assert second.reused_tokens >= system_tokens - 5  # ...and the system prompt stayed cached


def test_unsaved_draft_runs_are_logged_without_a_version(ws, chat_engine):
    doc_id = ws.prompts.active_id()
    doc = ws.prompts.load_draft(doc_id)
    doc.set_section("role", "You are a cheerful assistant.")
    ws.prompts.save_draft(doc_id, doc)
    session = ChatSession(ws, chat_engine)
    answer(session, "Hi")
    run = ws.runs.get(session.last_run_id)
    assert run["version_id"] is None and "cheerful" in run["rendered_prompt"]
