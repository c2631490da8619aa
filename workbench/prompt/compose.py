"""Pure composition: a prompt document + lessons + conversation -> the messages a model gets.

The system prompt holds only what is stable between turns (sections, pinned
lessons in id order), so llama.cpp's prefix cache survives from turn to turn;
lessons retrieved for the newest question travel with that question instead.
"""

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Callable

from workbench.prompt.document import PromptDocument

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
LESSONS_HEADING = "Lessons"
RETRIEVED_HEADING = "Notes from your notebook that may apply here:"


@dataclass(frozen=True)
class LessonRef:
    """What composition needs of a lesson (the notebook owns the rest)."""

    id: int
    text: str
    demo_query: str | None = None  # an optional demonstration: a question...
    demo_answer: str | None = None  # ...and its ideal answer

    @property
    def demo(self) -> tuple[str, str] | None:
        if self.demo_query and self.demo_answer:
            return self.demo_query, self.demo_answer
        return None

    def cost(self, count_tokens: Callable[[str], int]) -> int:
        """Tokens it takes of the lesson budget: its line, and its demonstration if any."""
        demo = count_tokens(self.demo[0]) + count_tokens(self.demo[1]) if self.demo else 0
        return count_tokens(f"- {self.text}\n") + demo


@dataclass
class Composition:
    system_prompt: str
    messages: list[dict]  # system, example turns, conversation (newest user message + notes)
    breakdown: dict[str, int]  # tokens: one entry per section, then lessons, examples, conversation
    total_tokens: int
    n_ctx: int
    unknown_variables: list[str] = field(default_factory=list)
    lessons_in_prompt: list[int] = field(default_factory=list)
    lessons_over_budget: list[int] = field(default_factory=list)  # pinned but did not fit
    lessons_retrieved: list[int] = field(default_factory=list)

    @property
    def free_tokens(self) -> int:
        return self.n_ctx - self.total_tokens


def builtin_variables(model_name: str, today: date) -> dict[str, str]:
    # Day precision on purpose: a time of day would change the system prompt
    # every turn and throw away the cached prefix. With no model chosen yet,
    # {{model}} stays visible as written rather than becoming empty.
    return {"date": today.isoformat(), "model": model_name or "{{model}}"}


def fill_variables(text: str, values: dict[str, str]) -> tuple[str, list[str]]:
    """Replace {{name}}; unknown names stay visible in the text and are reported."""
    unknown: list[str] = []

    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name in values:
            return values[name]
        if name not in unknown:
            unknown.append(name)
        return m.group(0)

    return VARIABLE.sub(sub, text), unknown


def lessons_block(lessons: list[LessonRef]) -> str:
    return f"## {LESSONS_HEADING}\n" + "\n".join(f"- {l.text}" for l in lessons)


def with_retrieved(user_text: str, lessons: list[LessonRef]) -> str:
    if not lessons:
        return user_text
    notes = "\n".join(f"- {l.text}" for l in lessons)
    return f"{user_text}\n\n{RETRIEVED_HEADING}\n{notes}"


def compose(doc: PromptDocument, conversation: list[dict], *, pinned: list[LessonRef] = (),
            retrieved: list[LessonRef] = (), count_tokens: Callable[[str], int],
            n_ctx: int, model_name: str = "", today: date | None = None) -> Composition:
    """Build the messages for the next assistant turn, with a token breakdown.

    Args:
        conversation: the accepted messages so far ({"role", "content"}), newest last.
        pinned: pinned active lessons; included in id order while they fit the budget.
        retrieved: lessons relevant to the newest user message (already ranked).
        count_tokens: the loaded model's tokenizer (or any stand-in for tests).
    """
    values = {**builtin_variables(model_name, today or date.today()), **doc.variables}
    breakdown: dict[str, int] = {}
    parts: list[str] = []
    unknown: list[str] = []
    for section in doc.sections:
        if not section.enabled or not section.text.strip():
            continue
        text, missing = fill_variables(section.text.strip(), values)
        unknown += [m for m in missing if m not in unknown]
        parts.append(text)
        breakdown[section.name] = count_tokens(text)

    included, over = [], []
    used = 0
    for lesson in sorted(pinned, key=lambda l: l.id):  # stable order keeps the cache
        cost = lesson.cost(count_tokens)  # a demonstration costs from the same budget
        if used + cost > doc.lesson_budget:
            over.append(lesson.id)
            continue
        included.append(lesson)
        used += cost
    demos = [l.demo for l in included if l.demo]
    if included:
        block = lessons_block(included)
        parts.append(block)
        breakdown["lessons"] = count_tokens(block) + sum(
            count_tokens(q) + count_tokens(a) for q, a in demos)
    else:
        breakdown["lessons"] = 0

    system_prompt = "\n\n".join(parts)
    messages: list[dict] = [{"role": "system", "content": system_prompt}] if system_prompt else []
    examples_tokens = 0
    for ex in doc.examples:
        messages += [{"role": "user", "content": ex.user},
                     {"role": "assistant", "content": ex.assistant}]
        examples_tokens += count_tokens(ex.user) + count_tokens(ex.assistant)
    breakdown["examples"] = examples_tokens
    # Pinned lessons' demonstrations follow the document's examples as earlier
    # turns (URIAL renders them as Query/Answer pairs); they are stable between
    # turns, so the cached prefix survives.
    for q, a in demos:
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]

    convo = [dict(m) for m in conversation if m["role"] != "system"]
    retrieved_ids = []
    if retrieved and convo and convo[-1]["role"] == "user":
        convo[-1]["content"] = with_retrieved(convo[-1]["content"], list(retrieved))
        retrieved_ids = [l.id for l in retrieved]
    messages += convo
    breakdown["conversation"] = sum(count_tokens(m["content"]) for m in convo)

    return Composition(
        system_prompt=system_prompt, messages=messages, breakdown=breakdown,
        total_tokens=sum(breakdown.values()), n_ctx=n_ctx, unknown_variables=unknown,
        lessons_in_prompt=[l.id for l in included], lessons_over_budget=over,
        lessons_retrieved=retrieved_ids)
