"""The stable prefix of a prompt document (what every question to it begins with), whether it is
worth warming, and warming it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from workbench.runtime.generation import prompt_tokens
from workbench.runtime.prefill import Prefill
from workbench.runtime.prompt_cache import common_prefix

if TYPE_CHECKING:  # only for type hints: importing it would load llama.cpp
    from workbench.runtime.engine import Engine


def stable_prefix(engine: Engine, mode: str, messages: list[dict]) -> list[int]:
    """The tokens any question after `messages` (system prompt, examples, earlier turns) begins
    with in this mode: the same messages with two different questions, up to where they part.
    Raw mode continues the typed text only, so it has none."""
    if mode == "raw":
        return []
    a = prompt_tokens(engine, mode, [*messages, {"role": "user", "content": "a"}])
    b = prompt_tokens(engine, mode, [*messages, {"role": "user", "content": "b"}])
    return a[:common_prefix(a, b)]


def why_not_warm(messages: list[dict], prefix_tokens: int, n_ctx: int, room: int) -> str | None:
    """None when the prefix of `messages` (prefix_tokens long) is worth warming; "" when nothing
    was written yet (no system prompt, examples or turns: nothing to prepare, nothing to say);
    else, in plain words, why no question after it can be sent (each needs `room` tokens more)."""
    if not any(str(m.get("content") or "").strip() for m in messages):
        return ""
    if n_ctx > 0 and prefix_tokens + room > n_ctx:
        problem = "does not fit the context" if prefix_tokens > n_ctx else "leaves no room for a question"
        return (f"The prompt {problem}: {prefix_tokens:,} of {n_ctx:,} tokens. Shorten the prompt or "
                "the conversation, or choose a longer context (or a model with one) in the Model panel.")
    return None


def warm(engine: Engine, mode: str, messages: list[dict],
         cancelled: Callable[[], bool] | None = None) -> Prefill:
    """Evaluate (or restore) the stable prefix of `messages` now, so the next question starts
    from it; see Engine.warm. A prefix that fills the context is left alone: no prompt that
    begins with it can be sent."""
    tokens = stable_prefix(engine, mode, messages)
    if len(tokens) >= engine.n_ctx:
        return Prefill(len(tokens))
    return engine.warm(tokens, cancelled)
