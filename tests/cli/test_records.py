"""`workbench conversations` and `workbench runs` end to end, over a database filled through
the stores as chat and the window fill it."""

import json

import pytest

from tests.conftest import call_cli as workbench
from workbench.chat.runs import RunRecord
from workbench.workspace import Workspace

LONG_LINE = "Tides rise and fall twice a day because " + "the moon pulls the sea " * 5


def failed(*args: str) -> str:
    proc = workbench(*args, check=False)
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert proc.stderr.startswith("workbench: ") and "Traceback" not in proc.stderr
    return proc.stderr


@pytest.fixture
def filled(workbench_home) -> dict:
    """Two conversations (one with a second branch, one empty) and two runs, one rated."""
    ws = Workspace.open()
    c = ws.conversations
    sea = c.create("Sea talk")
    c.append(sea, "user", "Tell me about tides")
    first = c.append(sea, "assistant", "Tides come from the moon.")
    c.fork(first.id, "Tides come from gravity,\nmostly the moon's.")  # the branch on screen
    empty = c.create("Empty one")
    doc_id = ws.prompts.active_id()
    version = ws.prompts.latest(doc_id)
    rated = ws.runs.log(RunRecord(
        "models/SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2 135M", "chat",
        {"temperature": 0.2, "seed": 7}, "<|im_start|>system\nYou are helpful.",
        [{"role": "user", "content": "Tell me about tides"}], LONG_LINE + "\nSecond line.",
        {"completion_tokens": 30, "finish_reason": "stop"}, document_id=doc_id,
        version_id=version.id, conversation_id=sea, lesson_ids=[3, 5], model_sha256=""))
    ws.runs.rate(rated, -1, "too long")
    newest = ws.runs.log(RunRecord("models/gemma.gguf", "Gemma 270M", "urial", {}, "# Query:",
                                   [], "", {}, model_sha256=""))
    return {"sea": sea, "empty": empty, "rated": rated, "newest": newest, "doc": doc_id}


# -- conversations -------------------------------------------------------------------


def test_conversations_list_counts_the_branch_on_screen(filled):
    rows = json.loads(workbench("conversations", "list", "--json").stdout)
    by_id = {r["id"]: r for r in rows}
    assert by_id[filled["sea"]]["title"] == "Sea talk"
    assert (by_id[filled["sea"]]["messages"], by_id[filled["sea"]]["all_messages"]) == (2, 3)
    assert (by_id[filled["empty"]]["messages"], by_id[filled["empty"]]["all_messages"]) == (0, 0)
    assert all(r["created"] for r in rows)
    text = workbench("conversations", "list").stdout
    assert "2 messages, 3 with other branches  Sea talk" in text
    assert "0 messages  Empty one" in text


def test_conversations_list_when_there_are_none():
    proc = workbench("conversations", "list")
    assert proc.stdout == "" and "No conversations yet" in proc.stderr
    assert json.loads(workbench("conversations", "list", "--json").stdout) == []


def test_conversations_show_prints_the_current_branch(filled):
    proc = workbench("conversations", "show", str(filled["sea"]))
    assert proc.stdout == ("user: Tell me about tides\n"
                           "assistant: Tides come from gravity,\nmostly the moon's.\n")
    assert "Sea talk" in proc.stderr
    data = json.loads(workbench("conversations", "show", str(filled["sea"]), "--json").stdout)
    assert data["title"] == "Sea talk"
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    empty = workbench("conversations", "show", str(filled["empty"]))
    assert empty.stdout == "" and "no messages" in empty.stderr
    assert "There is no conversation 99." in failed("conversations", "show", "99")


def test_conversations_search_finds_every_branch_and_any_text_is_safe(filled):
    hits = json.loads(workbench("conversations", "search", "gravity", "--json").stdout)
    assert [h["conversation_id"] for h in hits] == [filled["sea"]]
    assert "[gravity]" in hits[0]["snippet"]
    text = workbench("conversations", "search", "moon").stdout.splitlines()
    assert len(text) == 2  # both answers, the one on screen and the other branch
    assert all(line.startswith(f"conversation {filled['sea']}") for line in text)
    for query in ('AND ( "* NEAR(', "-", '"', "moon*)"):
        proc = workbench("conversations", "search", query)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert "No messages match." in workbench("conversations", "search", "volcano").stderr


# -- runs ----------------------------------------------------------------------------


def test_runs_list_newest_first_with_a_short_first_line(filled):
    lines = workbench("runs", "list").stdout.splitlines()
    assert [int(line.split()[0]) for line in lines] == [filled["newest"], filled["rated"]]
    assert "Gemma 270M" in lines[0] and "urial" in lines[0] and "(no output)" in lines[0]
    rated = lines[1]
    assert "SmolLM2 135M" in rated and " -1 " in rated and "Second line" not in rated
    assert "Tides rise and fall" in rated and rated.endswith("…")
    assert len(rated) < len(LONG_LINE) + 40
    limited = json.loads(workbench("runs", "list", "--limit", "1", "--json").stdout)
    assert [r["id"] for r in limited] == [filled["newest"]]
    assert limited[0]["mode"] == "urial" and limited[0]["rating"] is None


def test_runs_list_limit_must_be_positive(filled):
    proc = workbench("runs", "list", "--limit", "0", check=False)
    assert proc.returncode == 2 and "1 or more" in proc.stderr
    assert len(workbench("runs", "list").stdout.splitlines()) == 2


def test_runs_show_everything(filled):
    text = workbench("runs", "show", str(filled["rated"])).stdout
    for part in ("SmolLM2 135M (SmolLM2-135M-Instruct.Q4_1.gguf", "mode: chat",
                 f"document {filled['doc']}, version 1 · conversation {filled['sea']}",
                 "lessons: #3, #5", "rating: -1 bad — too long", '"temperature": 0.2',
                 '"finish_reason": "stop"', "## rendered prompt\n<|im_start|>system\n",
                 "## output\n" + LONG_LINE + "\nSecond line."):
        assert part in text, part
    data = json.loads(workbench("runs", "show", str(filled["rated"]), "--json").stdout)
    assert data["params"] == {"temperature": 0.2, "seed": 7}
    assert data["messages"] == [{"role": "user", "content": "Tell me about tides"}]
    assert (data["rating"], data["comment"], data["version_number"]) == (-1, "too long", 1)
    assert "rating: none" in workbench("runs", "show", str(filled["newest"])).stdout
    assert "There is no run 99." in failed("runs", "show", "99")


def test_runs_show_after_its_document_was_deleted(filled):
    workbench("prompt", "new", "Another")
    workbench("prompt", "delete", str(filled["doc"]))
    text = workbench("runs", "show", str(filled["rated"])).stdout
    assert "a version since deleted" in text and "You are helpful." in text


# -- the store -----------------------------------------------------------------------


def test_summaries_follow_the_branch_switch(ws):
    c = ws.conversations
    cid = c.create("Branches")
    c.append(cid, "user", "Hi")
    a = c.append(cid, "assistant", "Hello")
    c.append(cid, "user", "More")
    c.fork(a.id, "Hey")  # head is now the short branch
    assert [(s["messages"], s["all_messages"]) for s in c.summaries()] == [(2, 4)]
    c.switch_to(a.id)
    assert [(s["messages"], s["all_messages"]) for s in c.summaries()] == [(3, 4)]
