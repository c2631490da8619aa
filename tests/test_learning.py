"""System prompt learning: lessons with demonstrations, reflection, curation, learning from tasks."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from workbench.chat_session import ChatSession
from workbench.curation import rate_run
from workbench.engine import SamplingParams
from workbench.errors import WorkbenchError
from workbench.proposals import ProposalStore
from workbench.reflection import SCHEMA, Proposal, conflicts, judge, parse, reflect, rule_problem
from workbench.reflection import situation_from_correction
from workbench.workspace import Workspace

TASKS = Path(__file__).resolve().parent.parent / "resources" / "tasks" / "house_conventions.jsonl"
GREEDY = SamplingParams(temperature=0, seed=0, max_tokens=60, repeat_penalty=1.0)
KM_RULE = "When the user asks how far apart two places are, give the distance in km."


@pytest.fixture
def ws(tmp_path):
    return Workspace.open(tmp_path / "wb.db")


def answer(ws, engine, question) -> str:
    session = ChatSession(ws, engine)
    return "".join(i for i in session.ask(question, GREEDY) if isinstance(i, str))


def test_a_correction_teaches_a_different_question_of_the_same_kind(ws, chat_engine):
    question = "What is the distance between Vienna and Prague?"
    before = answer(ws, chat_engine, question)
    assert "km" not in before  # the model does not guess the house unit
    store = ProposalStore(ws.db, ws.notebook)
    demo = ("How far is it from Paris to Berlin?", "It is about 880 km from Paris to Berlin.")
    verdict, related = judge(ws.notebook, KM_RULE)
    pid = store.add(Proposal(KM_RULE, "the user corrected miles to km", verdict, related, demo),
                    "correction")
    lesson = store.accept(pid)
    assert lesson.demo_query == demo[0] and lesson.pinned and lesson.source == "model"
    after = answer(ws, chat_engine, question)
    assert "km" in after


def test_reflection_output_is_schema_valid_or_reported(ws, chat_engine):
    situation = situation_from_correction("How far is Rome from Milan?", "300 miles", "About 480 km.")
    r = reflect(chat_engine, "chat", ws.notebook, situation)
    jsonschema.validate(json.loads(r.raw), SCHEMA)  # the grammar holds the model to the shape
    for p in r.proposals:  # whatever the 135M model wrote is either usable or refused with a reason
        assert p.acceptable or p.verdict.startswith(("empty", "near-empty", "not a rule"))
    bad = parse('{"lessons": [{"rule": "x"', ws.notebook)
    assert bad.problem.startswith("invalid") and bad.proposals == []
    empty = parse('{"lessons": []}', ws.notebook)
    assert empty.problem == "no lessons proposed"


def test_near_empty_and_malformed_rules_are_refused():
    assert rule_problem("") == "empty"
    assert rule_problem("When <situation>, <do this>.").startswith("near-empty")
    assert rule_problem("Use km.").startswith("near-empty")
    assert rule_problem("The Eurostar is the only way to travel between Paris and Berlin.") \
        .startswith("not a rule")
    assert rule_problem("What went wrong that the rule fixes", template="one line: what went wrong "
                        "that the rule fixes").startswith("near-empty")
    assert rule_problem(KM_RULE) == ""


def test_accept_edit_reject_duplicate_conflict(ws):
    store = ProposalStore(ws.db, ws.notebook)
    first = ws.notebook.add(KM_RULE).lesson
    verdict, related = judge(ws.notebook, KM_RULE.replace("km", "km!"))
    assert verdict == "duplicate" and related.id == first.id
    contrary = "When the user asks how far apart two places are, never give the distance in km."
    assert conflicts(contrary, KM_RULE)
    verdict, related = judge(ws.notebook, contrary)
    assert verdict == "conflict" and related.id == first.id
    pid = store.add(Proposal(contrary, "test", verdict, related), "rating")
    store.reject(pid)
    with pytest.raises(WorkbenchError, match="already rejected"):
        store.accept(pid)
    pid = store.add(Proposal("When asked for a list, number the items.", "test", "new"), "rating")
    edited = store.accept(pid, rule="When asked for a list, number the items from 1.")
    assert edited.text.endswith("from 1.") and store.pending() == []
    dup = store.add(Proposal(KM_RULE + " Always.", "t", "duplicate", first), "rating")
    merged = store.accept(dup)
    assert merged.id == first.id and merged.text == KM_RULE + " Always."
    with pytest.raises(WorkbenchError):
        store.add(Proposal("x", "", "near-empty: too short"), "rating")  # never stored


def test_tallies_move_on_rating_once_per_run(ws, chat_engine):
    lesson = ws.notebook.add(KM_RULE, pinned=True).lesson
    session = ChatSession(ws, chat_engine)
    list(session.ask("How far is Rome from Milan?", GREEDY))
    run = session.last_run_id
    rate_run(ws, run, -1, "used miles")
    rate_run(ws, run, -1, "still bad")  # the same rating again counts nothing more
    l = ws.notebook.get(lesson.id)
    assert (l.helpful, l.harmful) == (0, 1) and l.flagged
    rate_run(ws, run, 1)  # changed its mind: moved, not added
    l = ws.notebook.get(lesson.id)
    assert (l.helpful, l.harmful) == (1, 0) and not l.flagged


def test_over_budget_the_least_helpful_become_retrieved_only(ws):
    words = lambda t: len(t.split()) if t else 0
    a = ws.notebook.add("When asked about rivers, name the longest one first.", pinned=True).lesson
    b = ws.notebook.add("When asked about mountains, give the height in metres.", pinned=True).lesson
    c = ws.notebook.add("When asked about birds, mention what they eat.", pinned=True).lesson
    ws.notebook.tally([a.id], helpful=3)
    ws.notebook.tally([b.id], harmful=2)
    moved = ws.notebook.enforce_budget(budget=25, count_tokens=words)
    assert [l.id for l in moved] == [b.id]  # the one that hurt goes first
    assert {l.id for l in ws.notebook.pinned()} == {a.id, c.id}
    assert ws.notebook.get(b.id).status == "active"  # still retrieved when relevant, not dropped
    assert ws.notebook.history(b.id)[-1]["action"] == "demote"


def test_undo(ws):
    lesson = ws.notebook.add(KM_RULE, pinned=True).lesson
    ws.notebook.edit(lesson.id, text="When asked about distances, use furlongs.")
    assert ws.notebook.undo().text == KM_RULE
    ws.notebook.retire(lesson.id)
    assert ws.notebook.undo().status == "active"
    assert ws.notebook.undo().status == "retired"  # undoing the add retires, never erases
    assert [e["action"] for e in ws.notebook.history(lesson.id)] == [
        "add", "edit", "undo", "retire", "undo", "undo"]
    with pytest.raises(WorkbenchError, match="nothing to undo"):
        ws.notebook.undo()


def test_learn_raises_the_held_out_pass_rate(tmp_path):
    """Measured on SmolLM2-135M, greedy: 1/24 before, 18/24 after one round (4 lessons)."""
    subprocess.run(
        [sys.executable, "-m", "workbench.cli", "learn", "--tasks", str(TASKS), "--auto-accept",
         "--report", str(tmp_path / "report")], capture_output=True, text=True, timeout=900,
        check=True)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["n_train"] == 24 and report["n_test"] == 24
    before, after = report["baseline_passed"], report["rounds"][0]["test_passed"]
    assert before <= 2 and after >= 18, (before, after)
    assert len(report["rounds"][0]["lessons_added"]) == 4
    assert (tmp_path / "report.md").read_text().startswith("# Learning report")
    listed = subprocess.run([sys.executable, "-m", "workbench.cli", "lessons", "list"],
                            capture_output=True, text=True, check=True).stdout
    assert listed.count("with demonstration") == 4
