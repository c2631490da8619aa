"""Failures grouped per convention, situations named in general words, rules that quote no question."""

import pytest

from workbench.evals.conventions import group, pattern, rule_quotes, shared_words, situation
from workbench.evals.tasks import load_tasks, parse_tasks
from workbench.notebook.reflection import quotes_question, rule_problem
from workbench.resources import resource_path

SETS = ["house_conventions.jsonl", "house_rules.jsonl"]


def train_of(name):
    return [t for t in load_tasks(resource_path("tasks", name)) if t.split == "train"]


def test_cases_are_grouped_by_their_checks_in_order():
    lines = ['{"query": "How far is Rome from Milan?", "contains": "km"}',
             '{"query": "What is the capital of Peru?", "starts_with": "ANSWER:"}',
             '{"query": "How far is Oslo from Bergen?", "contains": "km"}',
             '{"query": "How far is Lyon from Nice?", "contains": "KM!"}']
    tasks = parse_tasks("\n".join(lines))
    groups = group(tasks)
    assert [(g.key, g.indices) for g in groups] == [
        ("contains: km", [0, 2]), ("starts_with: ANSWER:", [1]), ("contains: KM!", [3])]
    assert groups[0].tag != groups[2].tag and groups[0].tag.startswith("convention-contains-km")
    assert groups[0].action == "include “km” in the answer"


def test_the_situation_is_the_pattern_the_questions_share():
    assert pattern(["How far is it from Paris to Berlin?", "How far is it from New York to Boston?"]) == \
        "How far is it from … to …?"
    assert situation(["What is the capital of France?", "What is the capital of Japan?",
                      "What is the capital of Italy?"]) == "“What is the capital of …?”"
    # Two phrasings: both named; a question asked once in its own words adds nothing.
    two = situation(["How far is it from Paris to Berlin?", "What is the distance between A and B?",
                     "How far is it from Rome to Milan?", "What is the distance between C and D?",
                     "Tell me the gap Oslo-Bergen"])
    assert two == "“How far is it from … to …?” or “What is the distance between … and …?”"
    # No shared phrasing: the words several of them share (by stem), else the example.
    assert shared_words(["How heavy is a lion?", "What does a piano weigh?", "What is the weight of a bear?",
                         "How much does a car weigh?"]) == ["weigh"]
    assert situation(["Why is the sky blue?", "Who wrote Hamlet?"]) == "a question like the example"


@pytest.mark.parametrize("name", SETS)
def test_a_built_rule_quotes_no_train_question(name):
    train = train_of(name)
    groups = group(train)
    assert len(groups) >= 4
    for g in groups:
        rule = g.rule()
        assert rule_quotes(rule, train, g) == "", rule
        assert rule_problem(rule) == "", rule  # a rule of the form “When …, …”
        assert not any(t.query.rstrip("?.").lower() in rule.lower() for t in train), rule
        assert len(rule.split()) <= 24, rule  # short: the demonstration carries the rest


def test_a_rule_about_one_question_is_refused():
    train = train_of("house_rules.jsonl")
    questions, answers = [t.query for t in train], [t.ideal for t in train]
    weights = group(train)[0]
    quoted = "When asked something like “How heavy is an adult male lion?”, include “kg” in the answer."
    assert rule_quotes(quoted, train, weights).startswith("about one question: it quotes")
    assert "Paris" in quotes_question("When asked about prices in Paris, write EUR.", questions, "", answers)
    assert quotes_question("When asked how heavy a lion is, give kg.", questions, "", answers) \
        .startswith("about one question: “heavy lion”")
    # A general word found in the answers of many questions is the convention's, not one question's.
    assert quotes_question("When you give a weight, write it in kg.", questions, "", answers) == ""
    # The check's own words are allowed ("Alex" is in every email answer, and the check).
    assert quotes_question("When writing an email, sign it “Best regards, Alex”.", questions,
                           "Best regards, Alex", answers) == ""
    # rule_problem refuses it too, as reflection does for a teacher's rule.
    assert rule_problem(quoted, questions=questions, answers=answers).startswith("about one question")
