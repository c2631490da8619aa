"""Tallies that measure help: a rating counts only for the lessons its question is about, the
flag needs evidence, and the budget demotes by measured help."""

import pytest

from tests.conftest import GREEDY, words
from tests.fakes import FakeEngine
from workbench.chat.session import ChatSession
from workbench.notebook.lessons import FLAG_MIN_HARMFUL, Lesson
from workbench.notebook.rating import rate_run, rated_question, relevant_lessons

KM = "When you give a distance between two places, give it in km."
RECIPE = "When you explain how to cook something, end with 'Enjoy your meal!'."
CAPITAL = "When asked for a capital city, start the answer with 'ANSWER:'."


@pytest.fixture
def pinned(ws):
    """Three pinned conventions, each with a demonstration, as learning leaves them."""
    nb = ws.notebook
    return {
        "km": nb.add(KM, pinned=True, demo=("How far is Paris from Berlin?", "About 880 km.")).lesson,
        "recipe": nb.add(RECIPE, pinned=True, demo=("How do I boil an egg?",
                                                     "Boil it for nine minutes. Enjoy your meal!")).lesson,
        "capital": nb.add(CAPITAL, pinned=True, demo=("What is the capital of Japan?",
                                                       "ANSWER: Tokyo.")).lesson}


def ask(ws, question: str, answer: str = "Some answer.") -> int:
    session = ChatSession(ws, FakeEngine([answer]))
    list(session.ask(question, GREEDY))
    return session.last_run_id


def tallies(ws, lessons) -> dict[str, tuple[int, int]]:
    return {k: (ws.notebook.get(l.id).helpful, ws.notebook.get(l.id).harmful) for k, l in lessons.items()}


def test_one_unrelated_bad_rating_counts_for_no_lesson_and_flags_nothing(ws, pinned):
    run = ask(ws, "Write a haiku about spring rain.")
    assert set(ws.runs.get(run)["lesson_ids"]) == {l.id for l in pinned.values()}  # all in its prompt
    assert rate_run(ws, run, -1, "not a haiku") == []
    assert tallies(ws, pinned) == {"km": (0, 0), "recipe": (0, 0), "capital": (0, 0)}
    assert not any(ws.notebook.get(l.id).flagged for l in pinned.values())
    assert not any(e["action"] == "tally" for e in ws.notebook.recent_events())


def test_a_rating_counts_for_the_lessons_its_question_is_about_and_names_the_run(ws, pinned):
    run = ask(ws, "How far is it from Oslo to Bergen?", "About 300 miles.")
    assert rate_run(ws, run, -1, "miles") == [pinned["km"].id]
    assert tallies(ws, pinned) == {"km": (0, 1), "recipe": (0, 0), "capital": (0, 0)}
    event = ws.notebook.history(pinned["km"].id)[-1]
    assert event["action"] == "tally" and event["reason"] == f"rating of run #{run}"
    assert event["run_id"] == run and event["source"] == "user"
    assert not ws.notebook.get(pinned["km"].id).flagged  # one bad answer is no evidence yet
    rate_run(ws, run, -1)  # the same rating again counts nothing more
    rate_run(ws, ask(ws, "How far is Rome from Naples?", "About 140 miles."), -1)
    assert ws.notebook.get(pinned["km"].id).flagged  # two, and nothing in its favour
    rate_run(ws, run, 1)  # changed its mind: moved, not added
    assert tallies(ws, pinned)["km"] == (1, 1) and not ws.notebook.get(pinned["km"].id).flagged


def test_a_retrieved_lesson_counts_for_the_question_it_was_retrieved_for(ws, pinned):
    weight = ws.notebook.add("When you give a weight, give it in kg.",
                             demo=("How heavy is an adult lion?", "About 190 kg.")).lesson
    run = ask(ws, "How heavy is a grizzly bear?", "About 600 pounds.")
    logged = ws.runs.get(run)
    assert weight.id in logged["lesson_ids"]  # retrieved through its demonstration's words
    assert rated_question(ws, logged) == "How heavy is a grizzly bear?"
    assert relevant_lessons(ws, logged) == [weight.id]
    rate_run(ws, run, -1)
    assert ws.notebook.get(weight.id).harmful == 1 and tallies(ws, pinned)["km"] == (0, 0)


def test_a_retrieved_rule_put_before_the_question_is_not_taken_for_part_of_it(ws, pinned):
    # No demonstration: the rule heads the question; its words must not make other lessons
    # (here the pinned recipe lesson shares "cook") look relevant to the rating.
    rule = ws.notebook.add("When you say how long to cook pasta, give the minutes.").lesson
    run = ask(ws, "How long for spaghetti pasta?", "A while.")
    logged = ws.runs.get(run)
    assert rule.id in logged["lesson_ids"]
    assert logged["messages"][-1]["content"].startswith(rule.text)
    assert rated_question(ws, logged) == "How long for spaghetti pasta?"
    assert relevant_lessons(ws, logged) == [rule.id]


def test_the_flag_needs_evidence():
    def lesson(helpful, harmful):
        return Lesson(1, "x", [], "user", "active", True, helpful, harmful, None, "", "")
    assert FLAG_MIN_HARMFUL == 2
    assert not lesson(0, 1).flagged  # one bad rating
    assert lesson(0, 2).flagged and lesson(1, 3).flagged
    assert not lesson(2, 2).flagged and not lesson(5, 3).flagged  # it helped as often or more


def test_over_budget_the_least_measured_help_goes_first_and_the_newest_among_equals(ws):
    nb = ws.notebook
    old = nb.add("When asked about rivers, name the longest one first.", pinned=True).lesson
    hurt = nb.add("When asked about mountains, give the height in metres.", pinned=True).lesson
    new = nb.add("When asked about birds, mention what they eat.", pinned=True).lesson
    good = nb.add("When asked about lakes, give the area in square km.", pinned=True).lesson
    nb.tally([hurt.id], helpful=1, harmful=3, reason="evaluation", source="tasks")
    nb.tally([good.id], helpful=2, reason="evaluation", source="tasks")
    cost = old.ref().cost(words)
    moved = nb.enforce_budget(budget=sum(l.ref().cost(words) for l in (old, good)) + 1,
                              count_tokens=words)
    assert [l.id for l in moved] == [hurt.id, new.id]  # -2 first; then of the two at 0, the newer
    assert {l.id for l in nb.pinned()} == {old.id, good.id} and cost > 0
