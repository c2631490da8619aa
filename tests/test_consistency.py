"""Self-consistency: final answers and the majority vote, on paper and with the real models."""

import subprocess
import sys

from workbench.consistency import extract_answer, vote


def test_extract_answer():
    assert extract_answer("3 + 4 is 7.") == "7"
    assert extract_answer("It costs 1,250 euros") == "1250"
    assert extract_answer("The answer is Paris.\nHope that helps!") == "Hope that helps!"
    assert extract_answer("ANSWER: blue\nmore", r"ANSWER:\s*(\w+)") == "blue"
    assert extract_answer("nothing", r"ANSWER:(\w+)") == ""


def test_vote_majority_ties_and_no_majority():
    v = vote(["7", "It is 7", "12", "seven? 3", "7!"])
    assert (v.winner, v.count) == ("7", 3) and v.is_majority(0) and not v.is_majority(2)
    assert vote(["4", "5", "5", "4"]).winner == "4"  # tie: first seen wins
    assert vote(["1", "2", "3"]).winner == ""  # no two agree


def test_vote_on_the_base_model_corrects_single_samples():
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "chat", "--model", "models/gemma-3-270m-q4_k_m.gguf",
         "--samples", "5", "--temperature", "0.7", "--seed", "11", "--max-tokens", "40",
         "What is 3 + 4?"], capture_output=True, text=True, timeout=300, check=True)
    lines = proc.stdout.splitlines()
    answers = [l.split("final answer: ")[1].split(")")[0] for l in lines if l.startswith("--- sample")]
    assert len(answers) == 5
    assert lines[-1] == f"=== vote: 7 ({answers.count('7')}/5)"
    assert answers.count("7") >= 3 and any(a != "7" for a in answers)  # measured: 7,7,7,12,3
