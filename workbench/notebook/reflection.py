"""Reflection: the model proposes 0-3 lessons under a strict JSON schema; each is checked.

The prompt is a resource the user can edit (resources/reflection_prompt.md).
Small models write valid JSON with useless content, so every proposal is
checked: invalid, empty or near-empty proposals are reported and never
stored, and each good one is compared with the notebook (new, near duplicate
of a lesson, or in conflict with one).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench.fts import STOPWORDS, words
from workbench.notebook.duplicates import DUPLICATE_THRESHOLD, similarity
from workbench.notebook.lessons import Lesson, Notebook
from workbench.resources import resource_path
from workbench.runtime.generation import collect, stream
from workbench.runtime.params import SamplingParams

if TYPE_CHECKING:  # only for type hints: importing it would load llama.cpp
    from workbench.runtime.engine import Engine

PROMPT_RESOURCE = resource_path("reflection_prompt.md")
SCHEMA = {
    "type": "object",
    "properties": {"lessons": {"type": "array", "maxItems": 3, "items": {
        "type": "object",
        "properties": {"rule": {"type": "string", "maxLength": 200},
                       "reason": {"type": "string", "maxLength": 160}},
        "required": ["rule", "reason"]}}},
    "required": ["lessons"],
}
MIN_RULE_WORDS = 5
NEGATIONS = {"not", "never", "no", "don", "dont", "avoid", "without", "nothing"}


@dataclass
class Proposal:
    rule: str
    reason: str
    verdict: str  # "new", "duplicate", "conflict", or why it was refused
    related: Lesson | None = None  # the lesson it duplicates or conflicts with
    demo: tuple[str, str] | None = None

    @property
    def acceptable(self) -> bool:
        return self.verdict in ("new", "duplicate", "conflict")

    def describe(self) -> str:
        if self.verdict == "duplicate":
            return f"nearly the same as lesson #{self.related.id}: {self.related.text}"
        if self.verdict == "conflict":
            return f"may contradict lesson #{self.related.id}: {self.related.text}"
        return self.verdict


@dataclass
class Reflection:
    proposals: list[Proposal] = field(default_factory=list)
    raw: str = ""
    problem: str = ""  # "" when the model's output was valid JSON of the schema

    def why_unusable(self, proposals: list[Proposal] | None = None) -> str:
        """Why the model's reply (or these proposals of it) gave nothing to keep."""
        shown = self.proposals if proposals is None else proposals
        return self.problem or "; ".join(f"“{p.rule}”: {p.verdict}" for p in shown) or "none"


def situation_from_rating(query: str, answer: str, comment: str = "") -> str:
    text = f"The user asked:\n{query}\n\nThe assistant answered:\n{answer}\n\nThe user rated it bad."
    return text + (f" Their comment: {comment}" if comment else "")


def situation_from_correction(query: str, answer: str, corrected: str) -> str:
    return (f"The user asked:\n{query}\n\nThe assistant answered:\n{answer}\n\n"
            f"The user corrected the answer to:\n{corrected}")


def situation_from_failures(failures: list[tuple[str, str, str]]) -> str:
    """failures: (question, answer given, what was expected)."""
    return "\n\n".join(f"Question: {q}\nAnswer given: {a}\nExpected: {e}" for q, a, e in failures)


def reflection_messages(situation: str, template: str | None = None) -> list[dict]:
    template = template or PROMPT_RESOURCE.read_text(encoding="utf-8")
    return [{"role": "user", "content": template.replace("{situation}", situation)}]


RULE_FORM = re.compile(r"^When\b[^,]{3,},\s*\S.{3,}", re.IGNORECASE | re.DOTALL)


def _plain(text: str) -> str:
    return " ".join(w.lower() for w in words(text))


def stem(word: str) -> str:
    """A crude stem (the first five letters), so “weighs” and “weight” count as one word."""
    return word.lower()[:5]


def quotes_question(rule: str, questions=(), allowed: str = "", answers=()) -> str:
    """Why a rule is about one question rather than a convention, or "": it repeats a question
    verbatim, names a proper name of only one of them (a city, a person), or two words found
    in only the same one of them (“adult male lion”, “boil an egg”). A word counts as found in
    a question when it is in the question or its answer (answers, parallel to questions): a
    convention's own words (“weight”) recur across its answers.

    allowed: text whose words do not count (the check's own value, e.g. “Enjoy your meal!”).
    """
    questions = [q for q in questions if q.strip()]
    plain = _plain(rule)
    for q in questions:
        if _plain(q) and f" {_plain(q)} " in f" {plain} ":
            return f"about one question: it quotes “{q.strip()}”"
    if len(questions) < 2:
        return ""
    answers = list(answers) + [""] * (len(questions) - len(answers))
    skip = {stem(w) for w in words(allowed)} | {stem(w) for w in STOPWORDS}
    found_in: dict[str, set[int]] = {}
    names: set[str] = set()  # stems written with a capital inside a question: proper names
    for i, (q, a) in enumerate(zip(questions, answers)):
        for s in {stem(w) for w in words(f"{q} {a}")}:
            found_in.setdefault(s, set()).add(i)
        names |= {stem(w) for w in words(q)[1:] if w[:1].isupper()}
    only: dict[int, list[str]] = {}
    for w in dict.fromkeys(words(rule)):
        s = stem(w)
        if len(w) > 2 and s not in skip and len(found_in.get(s, ())) == 1:
            (i,) = found_in[s]
            if s in names:
                return f"about one question: it names “{w}”, found in only “{questions[i].strip()}”"
            only.setdefault(i, []).append(w)
    for i, ws in only.items():
        if len(ws) >= 2:
            return (f"about one question: “{' '.join(ws)}” are words of only “{questions[i].strip()}”")
    return ""


def rule_problem(rule: str, situation: str = "", template: str = "", questions=(),
                 allowed: str = "", answers=()) -> str:
    """Why a proposed rule is too empty to keep, or "" when it is worth a look.

    questions: the questions the rule should generalise (a task set's train split); a rule
    that quotes one of them is refused (see quotes_question)."""
    rule = rule.strip()
    if not rule:
        return "empty"
    if "<" in rule and ">" in rule:
        return "near-empty: it repeats the template's placeholders"
    if template and rule.rstrip(".").lower() in template.lower():
        return "near-empty: it copies the reflection prompt"
    content = [w for w in words(rule) if w.lower() not in STOPWORDS]
    if len(words(rule)) < MIN_RULE_WORDS or len(content) < 2:
        return f"near-empty: fewer than {MIN_RULE_WORDS} words"
    if situation and rule in situation:
        return "near-empty: it only repeats the conversation"
    if not RULE_FORM.match(rule):
        return "not a rule: it must read “When <situation>, <what to do>.”"
    return quotes_question(rule, questions, allowed, answers)


def _negated(text: str) -> bool:
    return any(w.lower().replace("'", "") in NEGATIONS for w in words(text))


def conflicts(a: str, b: str) -> bool:
    """A heuristic: the same situation, one rule negated and the other not."""
    wa = {w.lower() for w in words(a) if w.lower() not in STOPWORDS | NEGATIONS}
    wb = {w.lower() for w in words(b) if w.lower() not in STOPWORDS | NEGATIONS}
    overlap = len(wa & wb) / len(wa | wb) if wa | wb else 0
    return overlap >= 0.4 and _negated(a) != _negated(b)


def judge(notebook: Notebook, rule: str) -> tuple[str, Lesson | None]:
    """'new', 'duplicate' of a lesson, or 'conflict' with one."""
    dup = notebook.near_duplicate(rule)
    if dup:
        # "never do X" reads almost like "do X": alike in words, opposite in meaning.
        return ("conflict" if _negated(rule) != _negated(dup[0].text) else "duplicate"), dup[0]
    for hit in notebook.search(rule, any_word=True, limit=10):
        if similarity(rule, hit.lesson.text) < DUPLICATE_THRESHOLD and conflicts(rule, hit.lesson.text):
            return "conflict", hit.lesson
    return "new", None


def parse(raw: str, notebook: Notebook, situation: str = "",
          demo: tuple[str, str] | None = None, template: str | None = None) -> Reflection:
    try:
        data = json.loads(raw)
        items = data["lessons"]
        assert isinstance(items, list)
    except (json.JSONDecodeError, KeyError, TypeError, AssertionError):
        return Reflection([], raw, "invalid: the reply is not JSON of the lesson schema")
    result = Reflection([], raw)
    for item in items[:3]:
        rule = str(item.get("rule", "")).strip() if isinstance(item, dict) else ""
        reason = str(item.get("reason", "")).strip() if isinstance(item, dict) else ""
        problem = rule_problem(rule, situation,
                               template or PROMPT_RESOURCE.read_text(encoding="utf-8"))
        if problem:
            result.proposals.append(Proposal(rule, reason, problem, demo=demo))
            continue
        verdict, related = judge(notebook, rule)
        result.proposals.append(Proposal(rule, reason, verdict, related, demo))
    if not items:
        result.problem = "no lessons proposed"
    return result


def reflect(engine: Engine, mode: str, notebook: Notebook, situation: str,
            demo: tuple[str, str] | None = None, template: str | None = None,
            params: SamplingParams | None = None) -> Reflection:
    """Ask the loaded model for lessons; the grammar guarantees the JSON's shape."""
    params = params or SamplingParams(temperature=0, max_tokens=220)
    raw, _ = collect(stream(engine, mode, reflection_messages(situation, template), params,
                            json_schema=SCHEMA))
    return parse(raw, notebook, situation, demo, template)
