"""Self-consistency: the final answer of each sample, and the majority among them.

A final answer is what the sample says it is ("answer: 7", "= 7", "**7**"), else, for a short
sample, its last number or its whole text when that is a few words. Numbers inside dates, times
of day, time spans ("within 8 hours"), ordinals and list markers are not answers, and a long prose sample with no marked answer
has none: voting on prose would pick a word at random.
"""

import re
from collections import Counter
from dataclasses import dataclass

NUMBER = re.compile(r"(?<![\w.])-?\d+(?:[.,]\d+)*(?![\w])")
MAX_ANSWER_WORDS = 4  # a longer "answer" is a sentence: no vote on it
SHORT_SAMPLE_WORDS = 12  # a sample this short is an answer; in a longer one, only a short last line is
LAST_LINE_WORDS = 6

_MONTHS = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?|"
           r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
NOT_ANSWERS = re.compile("|".join([
    r"\b\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?)?",  # 2026-11-23, 2026-11-23T10:30
    r"\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b",  # 23/11/2026, 11.23.26
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS}(?:,?\s+\d{{4}})?",  # 23 November 2026
    rf"\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?",  # Nov 23, 2026
    r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?",  # 10:30, 10:30 pm
    r"\b\d{1,2}\s*[ap]\.?m\b\.?",  # 8 am, 8pm
    (r"\b(?:within|in|after|for|every|over|under|about)\s+\d+\s*"
     r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\b"),  # within 8 hours
    r"\b\d+(?:st|nd|rd|th)\b",  # ordinals: 1st, 23rd
    r"^\s*\d+[.)]\s",  # list markers: "1. Rome"
]), re.IGNORECASE | re.MULTILINE)
MARKED = re.compile(r"(?:final answer|the answer is|answer|result)\s*(?:is|:|=)?\s*[:=]?\s*(.+)", re.IGNORECASE)
LIST_MARKER = re.compile(r"^(?:\d+[.)]|[-*•])\s+")
BOLD = re.compile(r"\*\*([^*\n]{1,60})\*\*")
EQUALS = re.compile(r"=\s*(-?\d+(?:[.,]\d+)*)\s*\.?\s*$", re.MULTILINE)


def _numbers(text: str) -> list[str]:
    """The numbers in text that can be answers (not parts of dates, times, ordinals, markers)."""
    cleaned = NOT_ANSWERS.sub(" ", text)
    return [n.replace(",", "") for n in NUMBER.findall(cleaned)]


def _short(phrase: str) -> str:
    """A phrase as an answer: its number if it has one, else itself if it is a few words."""
    phrase = LIST_MARKER.sub("", phrase.strip()).strip("*_`\"'“”").strip()
    numbers = _numbers(phrase)
    if numbers:
        return numbers[0]
    phrase = phrase.rstrip(".!?;:,").strip()
    return phrase if phrase and len(phrase.split()) <= MAX_ANSWER_WORDS else ""


def extract_answer(text: str, pattern: str | None = None) -> str:
    """The final answer in a sample ("" when it has none): the regex's first group (or whole
    match) if given; else an answer the sample marks; else, in a short sample, the last number
    or the text itself when it is a few words."""
    if pattern:
        matches = list(re.finditer(pattern, text, re.MULTILINE))
        if not matches:
            return ""
        m = matches[-1]
        return (m.group(1) if m.groups() else m.group(0)).strip()
    for finder in (MARKED, EQUALS, BOLD):
        found = [m.group(1) for m in finder.finditer(text)]
        if found:
            answer = _short(found[-1].splitlines()[0])
            if answer:
                return answer
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    if len(text.split()) > SHORT_SAMPLE_WORDS:  # prose: only a short last line can be the answer
        last = lines[-1]
        return _short(last) if len(last.split()) <= LAST_LINE_WORDS else ""
    numbers = _numbers(text)
    return numbers[-1] if numbers else _short(lines[-1])


@dataclass
class Vote:
    answers: list[str]  # per sample, "" when none was found
    winner: str  # "" when no answer was given by at least two samples
    count: int

    def is_majority(self, i: int) -> bool:
        return bool(self.winner) and self.answers[i] == self.winner

    def tally(self) -> str:
        """Each answer with how many samples gave it, most first: "7 ×3 · 12 ×1"."""
        counts = Counter(a for a in self.answers if a)
        order = sorted(counts, key=lambda a: (-counts[a], self.answers.index(a)))
        return " · ".join(f"{a} ×{counts[a]}" for a in order)


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
