"""Learning keeps a lesson only on evidence: validated with vs without it on the train split,
one lesson per convention, evidence on proposals and tallies, truthful sources (fake engine)."""

import json
from dataclasses import replace

import sqlite_utils

from tests.fakes import FakeEngine
from workbench.db import migrations, open_db
from workbench.evals.conventions import group, rule_quotes
from workbench.evals.learn import Learner
from workbench.evals.results import EvalStore
from workbench.evals.tasks import parse_tasks
from workbench.notebook.proposals import ProposalStore
from workbench.notebook.reflection import Proposal
from workbench.notebook.teach import teach
from workbench.runtime.params import RunStats

LINES = [
    '{"query": "How far is it from Paris to Berlin?", "contains": "km", "ideal": "About 880 km."}',
    '{"query": "How far is it from Rome to Milan?", "contains": "km", "ideal": "About 480 km."}',
    '{"query": "How far is it from Oslo to Bergen?", "contains": "km", "ideal": "About 300 km."}',
    '{"query": "What is the capital of France?", "starts_with": "ANSWER:", "ideal": "ANSWER: Paris."}',
    '{"query": "What is the capital of Japan?", "starts_with": "ANSWER:", "ideal": "ANSWER: Tokyo."}',
    '{"query": "What is the capital of Italy?", "starts_with": "ANSWER:", "ideal": "ANSWER: Rome."}',
    '{"query": "How do I boil an egg?", "contains": "Enjoy your meal!", "ideal": "Boil it. Enjoy your meal!"}',
    '{"query": "How do I cook rice?", "contains": "Enjoy your meal!", "ideal": "Simmer it. Enjoy your meal!"}',
    '{"query": "How do I make toast?", "contains": "Enjoy your meal!", "ideal": "Toast it. Enjoy your meal!"}',
    '{"query": "How far is it from Lyon to Nice?", "contains": "km", "split": "test"}',
    '{"query": "What is the capital of Peru?", "starts_with": "ANSWER:", "split": "test"}',
    '{"query": "How do I make soup?", "contains": "Enjoy your meal!", "split": "test"}',
]
TASKS = parse_tasks("\n".join(LINES))
TRAIN = [t for t in TASKS if t.split == "train"]


class Scripted(FakeEngine):
    """Answers capitals right from the start; follows the km convention once an earlier turn shows
    it; follows the recipe one too, but then forgets the capitals' prefix (a lesson that breaks
    questions that passed)."""

    def stream_chat(self, messages, params=None, json_schema=None):
        self.calls.append(messages)
        before = " ".join(m["content"] for m in messages[:-1] if m["role"] == "assistant")
        q = messages[-1]["content"].lower()
        recipes = "Enjoy your meal!" in before
        if "far" in q:
            text = "It is about 500 km." if "km" in before else "It is quite far."
        elif "capital" in q:
            text = "It is the capital." if recipes else "ANSWER: the capital."
        else:
            text = "Cook it. Enjoy your meal!" if recipes else "Cook it."
        yield from (w + " " for w in text.split(" "))
        yield RunStats(prompt_tokens=len(before.split()), completion_tokens=len(text.split()),
                       finish_reason="stop")


def learner(ws, engine=None, **kw):
    doc = ws.prompts.load_draft(ws.prompts.active_id())
    return Learner(ws, engine or Scripted(), "chat", doc, document_id=ws.prompts.active_id(),
                   set_name="conventions", **kw)


def test_a_lesson_that_gains_is_kept_and_one_that_breaks_a_passing_question_is_rejected(ws):
    report = learner(ws).learn(TASKS, 1, True, None)
    km, recipe = report.candidates  # capitals pass already: no candidate for them
    assert km.convention == "contains: km" and km.decision == "accepted" and km.lost == []
    assert km.train_before == 3 and km.train_after == 6 and len(km.gained) == 3
    assert km.placement == "pinned" and km.author == "tasks" and km.demo[1].endswith("km.")
    assert recipe.decision == "rejected" and recipe.lost and "capital" in recipe.lost[0]
    assert recipe.why.startswith("broke 1 question that passed: “What is the capital of")
    # Every demonstration tried pinned, each broke a capital; then the best retrieved, where its
    # rule (“How do I …?”: stopwords only) is found for no question, so it gained nothing.
    assert [t["placement"] for t in recipe.demo_tries] == ["pinned"] * 3 + ["retrieved"]
    assert recipe.demo_tries[-1]["passed"] == 0 and recipe.placement == "pinned"
    # The notebook: one lesson, from the tasks, its evidence tallied, its rule about the convention.
    (lesson,) = ws.notebook.lessons()
    assert lesson.text == km.rule and lesson.source == "tasks" and lesson.pinned
    assert (lesson.helpful, lesson.harmful) == (3, 0) and km.tag in lesson.tags
    assert rule_quotes(lesson.text, TRAIN, group(TRAIN)[0]) == ""
    tally = [e for e in ws.notebook.history(lesson.id) if e["action"] == "tally"]
    assert tally[0]["reason"] == f"evaluation run {km.run_id}"
    # Every validation is a stored evaluation run of kind "validate": the evidence.
    runs = {r["id"]: r for r in EvalStore(ws.db).runs()}
    assert runs[km.run_id]["kind"] == "validate" and runs[recipe.run_id]["kind"] == "validate"
    assert report.rounds[0].test_passed == 2  # the km and capital test questions
    assert report.rounds[0].lessons_added == [km.rule]


def test_the_report_keeps_its_fields_and_adds_the_candidates(ws):
    report = learner(ws).learn(TASKS, 1, True, None)
    data = json.loads(report.to_json())
    assert {"baseline_passed", "rounds", "n_test", "baseline_prompt_tokens", "candidates"} <= set(data)
    assert {"test_passed", "test_total", "prompt_tokens", "lessons_added", "run_id"} <= set(data["rounds"][0])
    assert [c["decision"] for c in data["candidates"]] == ["accepted", "rejected"]
    assert {"rule", "demo", "situation", "placement", "train_before", "train_after", "gained", "lost",
            "why", "run_id"} <= set(data["candidates"][0])
    md = report.to_markdown()
    assert "| 1 | When asked “How far is it from … to …?”, include “km” in the answer. | new | pinned | " \
           "3 → 6 of 9 | 3 | 0 |" in md
    assert "rejected: broke 1 question" in md


def test_without_auto_accept_validated_lessons_wait_with_their_evidence(ws):
    report = learner(ws).learn(TASKS, 1, False, None)
    assert ws.notebook.lessons() == []  # nothing written
    (km,) = [c for c in report.candidates if c.decision == "proposed"]
    assert report.pending_proposals == 1 and report.lessons_proposed == [km.rule]
    # The test split's "after" run measured it applied.
    assert report.rounds[0].test_passed == 2 and report.baseline_passed == 1
    p = ProposalStore(ws.db, ws.notebook).get(km.proposal_id)
    assert p.author == "tasks" and p.origin == "tasks" and p.tags == [km.tag, "far"] == km.tags()
    assert p.evidence["gained"] == km.gained and p.evidence["lost"] == []
    assert p.evidence["train_before"] == 3 and p.evidence["train_after"] == 6
    assert p.evidence["placement"] == "pinned" and p.evidence["run_id"] == km.run_id
    lesson = ProposalStore(ws.db, ws.notebook).accept(p.id)
    assert lesson.source == "tasks" and (lesson.helpful, lesson.harmful) == (3, 0)


def test_later_rounds_edit_a_convention_s_lesson_instead_of_adding_another(ws):
    report = learner(ws).learn(TASKS, 3, True, None)
    # Round 2: the recipes still fail and no second lesson is tried for km; nothing more is
    # kept, so learning stops there.
    assert len(report.rounds) == 2 and "no candidate raised" in report.notes[-1]
    assert [c.convention for c in report.candidates].count("contains: km") == 1
    assert len(ws.notebook.lessons()) == 1


def test_a_lesson_over_the_budget_is_tried_retrieved_and_kept_so(ws):
    doc = ws.prompts.load_draft(ws.prompts.active_id())
    small = Learner(ws, Scripted(), "chat", replace(doc, lesson_budget=5))
    report = small.learn(TASKS, 1, False, None)
    assert {c.placement for c in report.candidates} == {"retrieved"}
    km = report.candidates[0]
    # Retrieved for the distance questions (its rule shares their words), its demonstration
    # travels with them, so it gains there as pinned would, and costs nothing elsewhere.
    assert km.decision == "proposed" and len(km.gained) == 3 and km.lost == []
    store = ProposalStore(ws.db, ws.notebook)
    assert store.get(km.proposal_id).evidence["placement"] == "retrieved"
    lesson = store.accept(km.proposal_id)
    assert not lesson.pinned and ws.notebook.relevant("How far is it from Lyon to Nice?", 3)[0].id == lesson.id


class Teacher(FakeEngine):
    """A teacher model replying with lessons under the JSON schema."""

    def __init__(self, rules):
        super().__init__([json.dumps({"lessons": [{"rule": r, "reason": "seen"} for r in rules]})])


def test_the_teacher_phrases_the_rule_when_it_passes_the_checks(ws):
    good = Teacher(["When you give a distance, write it in km."])
    report = learner(ws, teacher=good, teacher_mode="chat").learn(TASKS, 1, True, None)
    km = report.candidates[0]
    assert km.rule == "When you give a distance, write it in km." and km.author == "model"
    assert ws.notebook.lessons()[0].source == "model"
    # The teacher saw the group's failures (up to three), not one question.
    sent = good.calls[0][0]["content"]
    assert sent.count("Question:") == 3 and "How far is it from Rome to Milan?" in sent


def test_a_teacher_rule_that_quotes_a_train_question_is_replaced_by_the_built_one(ws):
    quoting = Teacher(["When asked something like “How far is it from Paris to Berlin?”, use km."])
    lrn = learner(ws, teacher=quoting, teacher_mode="chat")
    report = lrn.learn(TASKS, 1, True, None)
    km = report.candidates[0]
    assert km.author == "tasks" and km.rule == group(TRAIN)[0].rule()
    assert any("not usable" in n and "about one question" in n for n in lrn.notes)


def test_sources_say_who_wrote_the_rule(ws):
    store = ProposalStore(ws.db, ws.notebook)
    mine = teach(store, "How far is Rome from Milan?", "When you give a distance, use km.", "About 480 km.")
    assert store.get(mine).author == "user" and store.accept(mine).source == "user"
    proposed = teach(store, "What is the capital of Peru?", "When asked for a capital, begin with ANSWER:.",
                     "ANSWER: Lima.", author="model")
    assert store.accept(proposed).source == "model"
    reflected = store.add(Proposal("When asked for a recipe, end with Enjoy your meal!.", "r", "new"), "rating")
    assert store.get(reflected).author == "model"
    # The user edited the model's rule before accepting it: the user wrote what was kept.
    edited = store.accept(reflected, rule="When asked for a recipe, end with “Enjoy your meal!”.")
    assert edited.source == "user" and store.get(reflected).author == "user"


def test_a_database_from_before_m009_migrates(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    migrations.apply(old, stop_before="m009_add_proposal_evidence")
    assert "author" not in old["proposals"].columns_dict
    old["proposals"].insert({"rule": "When asked for a list, number it.", "reason": "", "tags": "[]",
                             "origin": "rating", "status": "pending", "verdict": "new", "created": "x"})
    old.close()
    db = open_db(path)
    assert {"author", "evidence"} <= set(db["proposals"].columns_dict)
    from workbench.notebook.lessons import Notebook
    p = ProposalStore(db, Notebook(db)).get(1)
    assert p.author == "model" and p.evidence == {}  # a reflection's, as before


def test_near_duplicate_lessons_are_merged_when_nothing_breaks(ws):
    first = ws.notebook.add("When asked for a list, separate the items with semicolons.", pinned=True).lesson
    second = ws.notebook.add("When asked for a list, separate the items with semicolons!", pinned=True,
                             force=True).lesson
    report = learner(ws).learn(TASKS, 1, True, None)
    merge = report.candidates[0]
    assert merge.action == "merge" and merge.merge_ids == [first.id, second.id]
    assert merge.decision == "accepted" and merge.lost == [] and merge.prompt_tokens < 0
    assert ws.notebook.get(second.id).status == "retired" and ws.notebook.get(first.id).status == "active"


def test_a_cancelled_run_says_so_and_writes_nothing(ws):
    polls = []

    def cancelled():
        polls.append(1)
        return len(polls) > 40  # past the baseline, inside the first candidate's trials

    stages = []
    report = learner(ws).learn(TASKS, 1, True, None, progress=stages.append, cancelled=cancelled)
    assert report.status == "cancelled" and report.rounds == []
    assert ws.notebook.lessons() == [] and ProposalStore(ws.db, ws.notebook).pending() == []
    assert "Cancelled" in report.notes[-1]
    assert stages[0]["stage"] == "measuring the test split before learning"
    assert all({"stage", "done", "total"} <= set(s) for s in stages)


class Picky(FakeEngine):
    """Writes km once an earlier turn shows it, but Bergen to Oslo only after seeing that very road."""

    def stream_chat(self, messages, params=None, json_schema=None):
        self.calls.append(messages)
        before = " ".join(m["content"] for m in messages[:-1] if m["role"] == "assistant")
        q = messages[-1]["content"]
        ok = "km" in before and ("Bergen to Oslo" not in q or "by road" in before)
        text = "It is about 500 km." if ok else "It is quite far."
        yield from (w + " " for w in text.split(" "))
        yield RunStats(prompt_tokens=1, completion_tokens=len(text.split()), finish_reason="stop")


def test_a_convention_that_still_fails_gets_its_lesson_edited_not_a_second_one(ws):
    roads = [f'{{"query": "How far is it from {a} to {b}?", "contains": "km", "ideal": "About {n} km."}}'
             for a, b, n in [("Paris", "Berlin", 880), ("Rome", "Milan", 480), ("Lyon", "Nice", 300)]]
    roads += [('{"query": "How far is it from Oslo to Bergen?", "contains": "km", '
               '"ideal": "It is about 460 km by road."}'),
              '{"query": "How far is it from Bergen to Oslo?", "contains": "km"}',
              '{"query": "How far is it from Porto to Faro?", "contains": "km", "split": "test"}']
    report = learner(ws, Picky()).learn(parse_tasks("\n".join(roads)), 3, True, None)
    first, edit = report.candidates
    # Round 1: the three shortest demonstrations each leave Bergen to Oslo failing; the first is kept.
    assert first.decision == "accepted" and first.action == "new" and len(first.demo_tries) == 3
    # Round 2: the same convention, so its lesson is edited with the demonstration not tried yet.
    assert edit.round == 2 and edit.action == "edit" and edit.related_id == first.lesson_id
    assert edit.demo[1].endswith("by road.") and edit.decision == "accepted"
    assert edit.gained == ["How far is it from Bergen to Oslo?"] and edit.lost == []
    (lesson,) = ws.notebook.lessons()  # one lesson for the convention, its tallies carried over
    assert lesson.demo_answer.endswith("by road.") and lesson.helpful == len(first.gained) + 1
    assert ws.notebook.get(first.lesson_id).status == "retired"
