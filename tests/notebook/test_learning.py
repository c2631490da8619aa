"""System prompt learning: lessons with demonstrations, reflection, curation, learning from tasks."""

import json
import re
from dataclasses import asdict, replace

import jsonschema
import pytest

from tests.conftest import GREEDY, REPO, run_cli, words
from workbench.chat.session import ChatSession
from workbench.errors import WorkbenchError
from workbench.evals import runner
from workbench.evals.conventions import group, rule_quotes
from workbench.evals.learn import EVAL_PARAMS
from workbench.evals.tasks import load_tasks
from workbench.notebook.proposals import ProposalStore
from workbench.notebook.rating import rate_run
from workbench.notebook.reflection import (
    PROMPT_RESOURCE,
    SCHEMA,
    Proposal,
    conflicts,
    judge,
    parse,
    reflect,
    rule_problem,
    situation_from_correction,
)
from workbench.resources import resource_path
from workbench.workspace import Workspace

TASKS = resource_path("tasks", "house_conventions.jsonl")
LONGER = replace(GREEDY, max_tokens=60)
KM_RULE = "When the user asks how far apart two places are, give the distance in km."
# Distance questions unlike the lesson's demonstration (Paris to Berlin).
DISTANCES = ["What is the distance between Vienna and Prague?", "How far is it from Lisbon to Porto?",
             "How far is it from Berlin to Munich?", "What is the distance between Amsterdam and Brussels?",
             "How far is Rome from Naples?"]
CORRECTION = situation_from_correction("How far is Rome from Milan?", "300 miles", "About 480 km.")


def answer(ws, engine, question) -> str:
    session = ChatSession(ws, engine)
    return "".join(i for i in session.ask(question, LONGER) if isinstance(i, str))


def in_km(text: str) -> bool:
    return re.search(r"\bkm\b", text) is not None


def test_a_correction_teaches_different_questions_of_the_same_kind(ws, chat_engine):
    """Measured on SmolLM2-135M, greedy (1 and 2 threads): 0 of 5 answers in km before the
    lesson, 5 of 5 after. Greedy decoding differs across CPUs, so the test asks for 3."""
    before = [answer(ws, chat_engine, q) for q in DISTANCES]
    store = ProposalStore(ws.db, ws.notebook)
    demo = ("How far is it from Paris to Berlin?", "It is about 880 km from Paris to Berlin.")
    verdict, related = judge(ws.notebook, KM_RULE)
    pid = store.add(Proposal(KM_RULE, "the user corrected miles to km", verdict, related, demo),
                    "correction")
    lesson = store.accept(pid)
    # A correction's rule is the user's (here the test's own words), and says so.
    assert lesson.demo_query == demo[0] and lesson.pinned and lesson.source == "user"
    after = [answer(ws, chat_engine, q) for q in DISTANCES]
    gained = sum(map(in_km, after)) - sum(map(in_km, before))
    print(f"answers in km: before {sum(map(in_km, before))}/5, after {sum(map(in_km, after))}/5")
    assert gained >= 3, (before, after)


def test_reflection_on_the_real_model_is_schema_valid_and_every_rule_is_checked(ws, chat_engine):
    r = reflect(chat_engine, "chat", ws.notebook, CORRECTION)
    print("reflection:", r.raw)
    data = json.loads(r.raw)
    jsonschema.validate(data, SCHEMA)  # the grammar holds the model to the shape
    assert r.problem == ("" if data["lessons"] else "no lessons proposed")
    assert [p.rule for p in r.proposals] == [lesson["rule"].strip() for lesson in data["lessons"]]
    # Whatever the 135M model wrote, a rule is offered only when the checks (which see the
    # conversation and the reflection prompt) find nothing wrong with it.
    template = PROMPT_RESOURCE.read_text(encoding="utf-8")
    for p in r.proposals:
        assert p.acceptable == (rule_problem(p.rule, CORRECTION, template) == ""), (p.rule, p.verdict)


def test_each_proposed_rule_gets_its_verdict(ws):
    first = ws.notebook.add(KM_RULE).lesson
    template = PROMPT_RESOURCE.read_text(encoding="utf-8")
    reply = {"lessons": [
        {"rule": "When asked for a recipe, list the ingredients first.", "reason": "new"},
        {"rule": KM_RULE.replace("km", "km!"), "reason": "the same rule again"},
        {"rule": "When the user asks how far apart two places are, never give the distance in km.",
         "reason": "the opposite rule"},
        {"rule": "When asked for a list, number the items.", "reason": "a fourth, past the limit"}]}
    r = parse(json.dumps(reply), ws.notebook, CORRECTION, template=template)
    assert r.problem == "" and [p.verdict for p in r.proposals] == ["new", "duplicate", "conflict"]
    assert r.proposals[1].related.id == r.proposals[2].related.id == first.id
    assert all(p.acceptable for p in r.proposals)  # at most three are read
    refused = parse(json.dumps({"lessons": [
        {"rule": "Use km.", "reason": "too short"},
        {"rule": "The user corrected the answer to", "reason": "copies the conversation"},
        {"rule": "A lesson is one short rule of the form", "reason": "copies the prompt"}]}),
        ws.notebook, CORRECTION, template=template)
    assert [p.verdict.split(":")[0] for p in refused.proposals] == ["near-empty"] * 3
    assert [p.verdict.split(": ")[1] for p in refused.proposals] == [
        "fewer than 5 words", "it only repeats the conversation", "it copies the reflection prompt"]
    assert not any(p.acceptable for p in refused.proposals)


def test_a_reply_that_is_not_the_schema_is_reported(ws):
    bad = parse('{"lessons": [{"rule": "x"', ws.notebook)
    assert bad.problem.startswith("invalid") and bad.proposals == []
    assert parse('{"lessons": "none"}', ws.notebook).problem.startswith("invalid")
    empty = parse('{"lessons": []}', ws.notebook)
    assert empty.problem == "no lessons proposed" and empty.proposals == []


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
    list(session.ask("How far is Rome from Milan?", LONGER))
    run = session.last_run_id
    rate_run(ws, run, -1, "used miles")
    rate_run(ws, run, -1, "still bad")  # the same rating again counts nothing more
    l = ws.notebook.get(lesson.id)
    assert (l.helpful, l.harmful) == (0, 1) and not l.flagged  # one bad answer is no evidence yet
    rate_run(ws, run, 1)  # changed its mind: moved, not added
    l = ws.notebook.get(lesson.id)
    assert (l.helpful, l.harmful) == (1, 0) and not l.flagged


def test_over_budget_the_least_helpful_become_retrieved_only(ws):
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


@pytest.mark.model  # `learn` runs the default chat model
def test_learn_raises_the_held_out_pass_rate_as_far_as_a_hand_written_notebook(tmp_path, chat_engine,
                                                                              workbench_home):
    """Measured on SmolLM2-135M, greedy, one round, test split of 24 (this machine, 1 thread,
    shared): 0 -> 19 with 4 lessons kept, each on evidence (the list lesson broke a distance
    question when pinned and was kept retrieved), at 148 prompt tokens; about 2 min of CPU. The
    old unvalidated learning gave 1 -> 18 (Intel), 0 -> 14 and 0 -> 16 (AMD EPYC). Greedy
    decoding differs across CPUs and thread counts, so the test asks for a margin well inside
    those: a gain of 6 of 24.

    The same run is compared with the notebook a careful user writes by hand
    (bench/data/house_conventions.hand.json: one general rule and one demonstration per
    convention): measured 15/24 at 198 tokens a question against learned 19/24 at 164; asserted
    learned >= hand-written - HAND_MARGIN, at no more than 1.2x its tokens a question."""
    run_cli("learn", "--tasks", str(TASKS), "--auto-accept", "--report", str(tmp_path / "report"),
            timeout=900)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["n_train"] == 24 and report["n_test"] == 24
    before, after = report["baseline_passed"], report["rounds"][0]["test_passed"]
    print(f"held-out pass count: before {before}/24, after {after}/24; "
          f"{report['rounds'][0]['prompt_tokens']} prompt tokens; {report['seconds']} s")
    assert before <= 6 and after - before >= 6, (before, after)
    added = report["rounds"][0]["lessons_added"]
    kept = [c for c in report["candidates"] if c["decision"] == "accepted"]
    assert 2 <= len(added) == len(kept) <= 4
    # One lesson per failing convention, never a second; each kept on evidence.
    conventions = [c["convention"] for c in report["candidates"]]
    assert len(conventions) == len(set(conventions)) <= 4
    for c in kept:
        assert c["train_after"] > c["train_before"] and c["lost"] == [], c
        assert c["run_id"] and c["placement"] in ("pinned", "retrieved") and c["author"] == "tasks"
    for c in report["candidates"]:
        if c["decision"] == "rejected":
            assert c["why"].startswith(("made 0 of", "broke")), c
    # No lesson quotes a train question.
    train = [t for t in load_tasks(TASKS) if t.split == "train"]
    by_key = {g.key: g for g in group(train)}
    for c in kept:
        assert rule_quotes(c["rule"], train, by_key[c["convention"]]) == "", c["rule"]
        assert not any(t.query in c["rule"] for t in train)
    assert (tmp_path / "report.md").read_text().startswith("# Learning report")
    listed = run_cli("lessons", "list").stdout
    assert listed.count("with demonstration") == len(added)
    # Before and after are two evaluation runs, kept with the draft's history, and so are the
    # train run and every candidate's validation run.
    assert report["rounds"][0]["run_id"] > report["baseline_run_id"] > 0
    history = json.loads(run_cli("eval", "--history", "--json").stdout)["draft"]
    learn_runs = [(h["run_id"], h["passed"], h["total"]) for h in history if h["kind"] == "learn"]
    assert learn_runs[0] == (report["baseline_run_id"], before, 24)
    assert learn_runs[-1] == (report["rounds"][0]["run_id"], after, 24)
    validated = {h["run_id"] for h in history if h["kind"] == "validate"}
    assert {c["run_id"] for c in report["candidates"]} <= validated

    test = [t for t in load_tasks(TASKS) if t.split == "test"]
    ws = Workspace.open(workbench_home / "workbench.db")  # the notebook the CLI learned
    doc = ws.prompts.load_draft(ws.prompts.active_id())
    learned_tokens = per_question_tokens(ws, doc, chat_engine, [t.query for t in test])
    hand_passed, hand_tokens = hand_written(tmp_path, chat_engine, test)
    print(f"hand-written {hand_passed}/24 at {hand_tokens:.0f} tokens a question; learned {after}/24 "
          f"at {learned_tokens:.0f}")
    assert after >= hand_passed - HAND_MARGIN, (after, hand_passed)
    assert learned_tokens <= 1.2 * hand_tokens, (learned_tokens, hand_tokens)


HAND = REPO / "bench" / "data" / "house_conventions.hand.json"
HAND_MARGIN = 4  # of 24 test questions: greedy decoding moves a few answers across CPUs and threads


def per_question_tokens(ws: Workspace, doc, engine, questions: list[str]) -> float:
    """Mean prompt tokens a test question costs: system prompt, pinned demonstrations, the lessons
    retrieved for it and the question itself."""
    return sum(ws.compose(doc, [{"role": "user", "content": q}], engine).total_tokens
               for q in questions) / len(questions)


def hand_written(tmp_path, engine, test) -> tuple[int, float]:
    """Test questions passed and tokens per question with the hand-written notebook, measured with
    the learner's own evaluation settings."""
    ws = Workspace.open(tmp_path / "hand.db")
    ws.notebook.import_json(HAND.read_text(encoding="utf-8"))
    assert len(ws.notebook.pinned()) == 4
    doc = ws.prompts.load_draft(ws.prompts.active_id())
    plan = runner.plan(ws, [runner.Variant("draft", doc)], [engine.info], test, seed=0, mode="chat",
                       overrides=asdict(EVAL_PARAMS))
    result = runner.execute(plan, lambda _path: engine)
    return sum(c.passed for c in result.cells[0]), per_question_tokens(ws, doc, engine, [t.query for t in test])
