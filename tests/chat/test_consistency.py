"""Self-consistency: final answers and the majority vote, on paper and with the real models."""

import re
from collections import Counter

import pytest

from tests.conftest import run_cli
from workbench.chat.consistency import extract_answer, vote
from workbench.workspace import Workspace

SAMPLE = re.compile(r"^--- sample (\d+) \(final answer: (.*?)\)(  <- majority)?$", re.MULTILINE)


def test_extract_answer():
    assert extract_answer("3 + 4 is 7.") == "7"
    assert extract_answer("It costs 1,250 euros") == "1250"
    assert extract_answer("The answer is Paris.\nHope that helps!") == "Paris"  # marked
    assert extract_answer("3 + 4 = 7") == "7" and extract_answer("So it is **12**, I think.") == "12"
    assert extract_answer("Paris") == "Paris"
    assert extract_answer("ANSWER: blue\nmore", r"ANSWER:\s*(\w+)") == "blue"
    assert extract_answer("nothing", r"ANSWER:(\w+)") == ""


@pytest.mark.parametrize("text", [
    "The meeting is on 2026-11-23.",  # "-23" was taken from the date
    "See you on 23/11/2026.",
    "It opened on November 23, 2026.",
    "Call me at 10:30 pm.",
    "Doors open at 8 am.",
    "She finished 3rd.",
    "Deliveries arrive within 8 hours of ordering.",  # "8" was taken from the time span
])
def test_dates_times_and_ordinals_are_not_answers(text):
    # No number is picked out of them (the whole phrase may still be a short answer).
    assert not re.fullmatch(r"-?[\d.,]+", extract_answer(text)), extract_answer(text)


def test_a_list_answer_is_its_item_not_its_number():
    assert extract_answer("1. Colosseum\n2. Trevi Fountain\n3. Pantheon") == "Pantheon"


def test_prose_has_no_answer_and_gets_no_mark():
    prose = [("Rome is full of history: walk from the Colosseum to the Forum, then spend an afternoon "
              "at the Vatican Museums and end the day with a gelato near the Pantheon, about 3 km away."),
             ("Start early at the Colosseum, which gets crowded; after lunch see the Trevi Fountain and "
              "the Spanish Steps, and keep the evening for Trastevere's little streets and 3 trattorias."),
             ("The Vatican takes a whole morning. Then cross the river to the Pantheon and Piazza "
              "Navona, and if you still have energy climb the Aventine at sunset for 3 great views.")]
    v = vote(prose)
    assert v.answers == ["", "", ""] and v.winner == "" and v.tally() == ""
    # A marked answer at the end of prose still counts.
    assert extract_answer(prose[0] + "\nAnswer: 7") == "7"


def test_dates_do_not_make_a_majority():
    v = vote(["It is due on 2026-11-23.", "Due 2026-11-23, I believe.", "2026-11-23 is the day."])
    assert not any(re.fullmatch(r"-?[\d.,]+", a) for a in v.answers), v.answers


def test_tally_counts_each_answer_most_first():
    v = vote(["12", "7", "It is 7", "The answer is 7.", "twelve: 12", "3"])
    assert (v.winner, v.count) == ("7", 3) and v.tally() == "7 ×3 · 12 ×2 · 3 ×1"


def test_vote_majority_ties_and_no_majority():
    v = vote(["7", "It is 7", "12", "seven? 3", "7!"])
    assert (v.winner, v.count) == ("7", 3) and v.is_majority(0) and not v.is_majority(2)
    assert vote(["4", "5", "5", "4"]).winner == "4"  # tie: first seen wins
    assert vote(["1", "2", "3"]).winner == ""  # no two agree
    assert vote(["It is 7."]).winner == "7"  # a single sample is its own answer


def parse_samples(stdout: str) -> list[tuple[str, bool, str]]:
    """(printed final answer, marked as majority, sample text) for each `--- sample` block."""
    heads = list(SAMPLE.finditer(stdout))
    assert [int(h.group(1)) for h in heads] == list(range(1, len(heads) + 1)), stdout
    ends = [h.start() for h in heads[1:]] + [stdout.index("\n=== vote: ")]
    return [(h.group(2), bool(h.group(3)), stdout[h.end() + 1:end].strip())
            for h, end in zip(heads, ends)]


def test_vote_on_the_base_model_picks_the_most_common_sampled_answer(base_model_path):
    # Sampled at 0.7, the five answers differ from CPU to CPU; what must hold everywhere is
    # what the command does with the samples it actually got.
    proc = run_cli("chat", "--model", str(base_model_path), "--samples", "5", "--temperature", "0.7",
                   "--seed", "11", "--max-tokens", "40", "What is 3 + 4?", timeout=300)
    samples = parse_samples(proc.stdout)
    answers = [a for a, _, _ in samples]
    print("sampled final answers:", answers, "|", proc.stdout.splitlines()[-1])
    assert len(samples) == 5 and all(text for _, _, text in samples)
    # Each printed final answer is the one found in that sample's text.
    assert answers == [extract_answer(text) or "none found" for _, _, text in samples]
    found = Counter(a for a in answers if a != "none found")
    best = max(found.values(), default=0)
    if best >= 2:  # the most common answer wins; ties go to the one seen first
        winner = next(a for a in answers if found[a] == best)
        assert proc.stdout.splitlines()[-1] == f"=== vote: {winner} ({best}/5)"
        assert [marked for _, marked, _ in samples] == [a == winner for a in answers]
    else:  # no two samples agree: no majority is claimed
        assert proc.stdout.splitlines()[-1] == f"=== vote: no answer found ({best}/5)"
        assert not any(marked for _, marked, _ in samples)
    # Every sample is logged, each with its own seed (seed, seed+1, ...), through URIAL.
    runs = list(reversed(Workspace.open().runs.recent()))
    assert [r["params"]["seed"] for r in runs] == [11, 12, 13, 14, 15]
    assert [r["output"] for r in runs] == [text for _, _, text in samples]
    assert {r["mode"] for r in runs} == {"urial"}
