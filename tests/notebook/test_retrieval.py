"""Retrieval that finds the convention: a lesson is indexed with its demonstration's question
and tags as well as its rule, so a question worded like the demonstration finds it."""

import json
from dataclasses import replace
from pathlib import Path

import sqlite_utils

from tests.fakes import FakeEngine
from workbench.db import migrations, open_db
from workbench.evals.tasks import parse_tasks
from workbench.notebook.lessons import Notebook
from workbench.workspace import engine_mode

WEIGHT = "When you give a weight, give it in kg."
LION = ("How heavy is an adult male lion?", "An adult male lion weighs about 190 kg.")


def test_a_question_like_the_demonstration_finds_the_rule_that_shares_none_of_its_words(ws):
    nb = ws.notebook
    with_demo = nb.add(WEIGHT, demo=LION).lesson
    nb.add("When you give a temperature, give it in °C.", demo=("How hot is lava?", "About 1,100 °C."))
    nb.add("When you name a date, write it as YYYY-MM-DD.")
    question = "How heavy is a grizzly bear?"  # no word of the rule's
    assert [l.id for l in nb.relevant(question, k=1)] == [with_demo.id]
    nb.retire(with_demo.id)
    nb.add(WEIGHT + " Always.")  # the same rule without a demonstration is not found by it
    assert nb.relevant(question, k=3) == []


def test_tags_and_demonstrations_stay_indexed_through_changes(ws):
    nb = ws.notebook
    lesson = nb.add(WEIGHT, tags=["mass"], demo=LION).lesson
    assert [h.lesson.id for h in nb.search("lion")] == [lesson.id]
    assert [l.id for l in nb.relevant("What is the mass of a car?", k=1)] == [lesson.id]
    nb.edit(lesson.id, tags=["heft"])
    assert nb.relevant("What is the mass of a car?", k=1) == []
    assert [l.id for l in nb.relevant("What is the heft of a car?", k=1)] == [lesson.id]
    # The snippet is still cut from the rule (column 0), never from the demonstration.
    assert "[lion]" not in nb.search("lion")[0].snippet
    with nb.db.atomic():
        nb.db["lessons"].update(lesson.id, {"demo_query": "How heavy is a bison?"})
    assert nb.search("lion") == [] and [h.lesson.id for h in nb.search("bison")] == [lesson.id]


def test_an_older_notebook_gets_its_demonstrations_indexed_on_upgrade(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    migrations.apply(old, stop_before="m011_index_lesson_demonstrations")
    old["lessons"].insert({"text": WEIGHT, "tags": "[]", "source": "user", "status": "active",
                           "pinned": 0, "helpful": 0, "harmful": 0, "created": "", "updated": "",
                           "demo_query": LION[0], "demo_answer": LION[1]})
    assert not old.execute("select rowid from lessons_fts where lessons_fts match 'heavy'").fetchall()
    old.close()
    nb = Notebook(open_db(path))
    assert [l.text for l in nb.relevant("How heavy is a bear?", k=1)] == [WEIGHT]
    assert {t.name for t in nb.db["lessons"].triggers} >= {"lessons_ai", "lessons_ad", "lessons_au"}


def test_relevant_among_picks_the_lessons_a_message_is_about(ws):
    nb = ws.notebook
    weight = nb.add(WEIGHT, demo=LION, pinned=True).lesson
    dates = nb.add("When you name a date, write it as YYYY-MM-DD.", pinned=True).lesson
    assert nb.relevant_among("How heavy is a whale?", [weight.id, dates.id]) == [weight.id]
    assert nb.relevant_among("On what date did it open?", [weight.id, dates.id]) == [dates.id]
    assert nb.relevant_among("Write a haiku about spring.", [weight.id, dates.id]) == []
    assert nb.relevant_among("How heavy is a whale?", [dates.id, 999]) == []
    assert nb.relevant_among("", [weight.id]) == [] and nb.relevant_among("heavy", []) == []


def test_the_many_conventions_bench_set_is_sound_and_retrieval_finds_each_convention(ws):
    """bench/retrieval.py's set: 30+ conventions, one demonstration and three held-out questions
    each, a hand-written notebook of distinct lessons whose rules quote no question."""
    data = Path(__file__).resolve().parents[2] / "bench" / "data"
    rows = [json.loads(line) for line in (data / "many_conventions.jsonl").read_text().splitlines()]
    lessons = json.loads((data / "many_conventions.hand.json").read_text())["lessons"]
    tasks = parse_tasks((data / "many_conventions.jsonl").read_text())  # the product reads it
    by_name: dict[str, list] = {}
    for row, task in zip(rows, tasks):
        by_name.setdefault(row["convention"], []).append(task)
    assert len(by_name) >= 30 and len(lessons) == len(by_name)
    for cases in by_name.values():
        assert [t.split for t in cases] == ["train", "test", "test", "test"] and cases[0].ideal
        assert all(t.verdicts(cases[0].ideal)[0].passed for t in cases)  # the ideal shows the rule
    assert len(ws.notebook.import_json(json.dumps({"lessons": lessons}))) == len(lessons)  # distinct
    questions = [t.query for t in tasks]
    assert not any(q.lower() in l["text"].lower() for q in questions for l in lessons)
    own = {l.demo_query: l.id for l in ws.notebook.lessons()}
    found = sum(own[cases[0].query] in [l.id for l in ws.notebook.relevant(t.query, k=2)]
                for cases in by_name.values() for t in cases[1:])
    assert found >= 0.95 * 3 * len(by_name)  # measured: all of them


def test_the_workspace_places_retrieved_lessons_for_the_loaded_models_mode(ws):
    ws.notebook.add("When you name a date, write it as YYYY-MM-DD.")  # a rule without a demonstration
    convo = [{"role": "user", "content": "On what date did the wall fall?"}]
    doc = ws.prompts.load_draft(ws.prompts.active_id())
    chat, base = FakeEngine(), FakeEngine(name="Fake base")
    base.info = replace(base.info, chat_template=None)
    refused = FakeEngine()
    refused.chat_problem = "the template failed"  # the session answers through URIAL then
    assert [engine_mode(e) for e in (None, chat, base, refused)] == ["chat", "chat", "urial", "urial"]
    assert ws.compose(doc, convo, chat).messages[-1]["content"].startswith("When you name a date")
    # Base models rewrote a bare rule into the answer: it stays out, and is not counted as used.
    for c in (ws.compose(doc, convo, base), ws.compose(doc, convo, chat, mode="urial")):
        assert c.messages[-1]["content"] == convo[0]["content"] and c.lessons_retrieved == []
