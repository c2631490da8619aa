"""Retrieved lessons placed where each mode reads them as context (real models, greedy): the
answer follows the lesson and repeats neither a heading nor the rule."""

import re
from dataclasses import replace

import pytest

from tests.conftest import GREEDY
from workbench.chat.session import ChatSession
from workbench.prompt.compose import RETRIEVED_HEADING
from workbench.runtime.generation import prompt_text

LONGER = replace(GREEDY, max_tokens=60)
KM = "When you say how far apart two places are, give the distance in km."
DATES = "When you give a date, write it as YYYY-MM-DD."
# Distance questions worded unlike the demonstration (Paris to Berlin) and unlike the rule.
DISTANCES = ["How far is Oslo from Bergen?", "How far is it from Lisbon to Porto?",
             "How far is Rome from Naples?"]


def copied_rule(answer: str, rule: str, n: int = 5) -> bool:
    """Whether the answer repeats n words in a row of the rule."""
    rule_words, said = re.findall(r"\w+", rule.lower()), " ".join(re.findall(r"\w+", answer.lower()))
    return any(" ".join(rule_words[i:i + n]) in said for i in range(len(rule_words) - n + 1))


@pytest.fixture
def notebook(ws):
    """Retrieved-only lessons: two with demonstrations, one without."""
    nb = ws.notebook
    nb.add(KM, demo=("How far is it from Paris to Berlin?", "It is about 880 km from Paris to Berlin."))
    nb.add("Give every weight in kilograms, written kg.",
           demo=("How heavy is an adult lion?", "An adult lion weighs about 190 kg."))
    nb.add(DATES)
    return ws


@pytest.mark.parametrize("which", ["chat", "base"])
def test_retrieved_lessons_are_followed_and_not_echoed(notebook, chat_engine, base_engine, which):
    ws, engine = notebook, chat_engine if which == "chat" else base_engine
    answers = []
    for question in [*DISTANCES, "On what date did the Berlin Wall fall?"]:
        session = ChatSession(ws, engine)
        answer = "".join(i for i in session.ask(question, LONGER) if isinstance(i, str))
        c, run = session.last_composition, ws.runs.get(session.last_run_id)
        assert c.lessons_retrieved and set(c.lessons_retrieved) <= set(run["lesson_ids"])
        text = prompt_text(engine, session.mode.name, c.messages)
        if which == "base":  # URIAL: the query block holds the question and nothing after it
            assert session.mode.name == "urial"
            assert text.endswith(f"{question}\n```\n\n# Answer:\n```\n")
        print(which, question, "->", answer)
        answers.append(answer)
    for answer in answers:
        assert RETRIEVED_HEADING.lower()[:20] not in answer.lower() and "notebook" not in answer.lower()
        assert not copied_rule(answer, KM) and not copied_rule(answer, DATES)
    # Greedy output differs across CPUs: a margin, not every answer.
    assert sum("km" in a for a in answers[:3]) >= 2, answers
