"""Self-consistency: the final answer of each sample, and the majority among them."""

import re
from collections import Counter
from dataclasses import dataclass

NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


def extract_answer(text: str, pattern: str | None = None) -> str:
    """The final answer in a sample: the regex's first group (or whole match) if given,
    else the last number, else the last non-empty line. Empty if none."""
    if pattern:
        matches = list(re.finditer(pattern, text, re.MULTILINE))
        if not matches:
            return ""
        m = matches[-1]
        return (m.group(1) if m.groups() else m.group(0)).strip()
    numbers = NUMBER.findall(text)
    if numbers:
        return numbers[-1].replace(",", "")
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    return lines[-1] if lines else ""


@dataclass
class Vote:
    answers: list[str]  # per sample, "" when none was found
    winner: str  # "" when no answer was given by at least two samples
    count: int

    def is_majority(self, i: int) -> bool:
        return bool(self.winner) and self.answers[i] == self.winner


def vote(samples: list[str], pattern: str | None = None) -> Vote:
    answers = [extract_answer(s, pattern) for s in samples]
    counts = Counter(a for a in answers if a)
    if not counts:
        return Vote(answers, "", 0)
    best = max(counts.values())
    if best < 2 and len(samples) > 1:
        return Vote(answers, "", best)  # every answer differs: there is no majority
    # Ties go to the answer seen first, so the result does not depend on hashing.
    winner = next(a for a in answers if counts.get(a) == best)
    return Vote(answers, winner, best)
