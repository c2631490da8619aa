"""Pure composition: a prompt document + lessons + conversation -> the messages a model gets.

The system prompt holds only what is stable between turns (sections, pinned
lessons in id order), so llama.cpp's prefix cache survives from turn to turn.
Lessons retrieved for the newest question come last, just before it, where each
mode reads them as context rather than as text to continue: a lesson's rule and
demonstration become an earlier exchange (the rule heads the demonstration's
question); in chat mode a rule without a demonstration heads the newest question,
in base mode it is left out (see placed). A notes heading appended to the question
was echoed by both default models.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from workbench.prompt.document import PromptDocument

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
LESSONS_HEADING = "Lessons"
# Retrieved lessons were once appended to the question under this heading; it stays known so
# an import can take it out of conversations stored then (share/lessons_block.split_retrieved).
RETRIEVED_HEADING = "Notes from your notebook that may apply here:"
MODES = ("chat", "base", "raw")  # composition's modes; the engine's "urial" composes as "base"


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
    # Messages the retrieved lessons' exchanges add just before the newest question: what
    # stands between the conversation so far and it (messages[-1 - n:-1]).
    retrieved_messages: int = 0

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


def composition_mode(mode: str) -> str:
    """The engine's mode (chat, urial, raw) as composition places lessons for it."""
    mode = {"urial": "base", "auto": "chat", "": "chat"}.get(mode or "", mode)
    if mode not in MODES:
        raise ValueError(f"unknown composition mode {mode!r}")
    return mode


def placed(lessons: list[LessonRef], mode: str = "chat") -> list[LessonRef]:
    """The retrieved lessons a mode's prompt takes: all in chat mode; in base mode only those
    with a demonstration (measured with Gemma-3-270M through URIAL: a bare rule in the query
    was rewritten into the answer, "When you give a distance, give it in miles.", 2 of 24
    times, and passed 4/24 against 5/24 without it); none in raw mode."""
    mode = composition_mode(mode)
    if mode == "raw":
        return []
    return [l for l in lessons if mode == "chat" or l.demo]


def retrieved_turns(lessons: list[LessonRef], mode: str = "chat") -> list[dict]:
    """The exchanges retrieved lessons with a demonstration add before the newest question,
    the most relevant last (nearest the question); each rule heads its demonstration's question.

    The same in both modes (measured, SmolLM2 chat and Gemma base through URIAL): a system
    message there would do a little better for SmolLM2 but breaks chat templates that insist
    on alternating turns, and URIAL folds system messages into its preamble, the cached prefix.
    """
    turns = []
    for lesson in reversed([l for l in placed(lessons, mode) if l.demo]):
        q, a = lesson.demo
        turns += [{"role": "user", "content": f"{lesson.text}\n\n{q}"},
                  {"role": "assistant", "content": a}]
    return turns


def with_retrieved(user_text: str, lessons: list[LessonRef], mode: str = "chat") -> str:
    """The newest question headed by the rules of retrieved lessons that have no demonstration
    (those with one travel in retrieved_turns); nothing follows the question, so the model
    answers it instead of continuing a list of notes."""
    rules = [l.text for l in placed(lessons, mode) if not l.demo]
    if not rules:
        return user_text
    return "\n".join(rules) + f"\n\n{user_text}"


def question_of(user_text: str, rules: list[str]) -> str:
    """The question as asked, from a user message as composed: without the retrieved rules
    with_retrieved put before it, or the notes block older versions appended to it."""
    user_text = user_text.split(f"\n\n{RETRIEVED_HEADING}\n")[0]
    head, sep, rest = user_text.partition("\n\n")
    known = set(rules)
    if sep and head and all(line in known for line in head.split("\n")):
        return rest
    return user_text


def compose(doc: PromptDocument, conversation: list[dict], *, pinned: list[LessonRef] = (),
            retrieved: list[LessonRef] = (), count_tokens: Callable[[str], int],
            n_ctx: int, model_name: str = "", today: date | None = None,
            mode: str = "chat") -> Composition:
    """Build the messages for the next assistant turn, with a token breakdown.

    Args:
        conversation: the accepted messages so far ({"role", "content"}), newest last.
        pinned: pinned active lessons; included in id order while they fit the budget.
        retrieved: lessons relevant to the newest user message (already ranked).
        count_tokens: the loaded model's tokenizer (or any stand-in for tests).
        mode: "chat", "base" (or the engine's "urial") or "raw": which retrieved lessons go in
            and where (see placed and retrieved_turns).
    """
    mode = composition_mode(mode)
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
    breakdown["conversation"] = sum(count_tokens(m["content"]) for m in convo)
    retrieved_ids, extra = [], []
    taken = placed(list(retrieved), mode)
    if taken and convo and convo[-1]["role"] == "user":
        # After everything stable (and the conversation so far), so the cached prefix survives.
        question = convo[-1]["content"]
        convo[-1]["content"] = with_retrieved(question, taken, mode)
        extra = retrieved_turns(taken, mode)
        convo[-1:-1] = extra
        retrieved_ids = [l.id for l in taken]
        breakdown["lessons"] += sum(count_tokens(m["content"]) for m in extra) + (
            count_tokens(convo[-1]["content"]) - count_tokens(question))
    messages += convo

    return Composition(
        system_prompt=system_prompt, messages=messages, breakdown=breakdown,
        total_tokens=sum(breakdown.values()), n_ctx=n_ctx, unknown_variables=unknown,
        lessons_in_prompt=[l.id for l in included], lessons_over_budget=over,
        lessons_retrieved=retrieved_ids, retrieved_messages=len(extra))
