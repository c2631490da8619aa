"""The stable prefix of a prompt document (what every question to it begins with) and warming it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from workbench.runtime.generation import prompt_tokens
from workbench.runtime.prompt_cache import common_prefix

if TYPE_CHECKING:  # only for type hints: importing it would load llama.cpp
    from workbench.runtime.engine import Engine
    from workbench.runtime.prefill import Prefill


def stable_prefix(engine: Engine, mode: str, messages: list[dict]) -> list[int]:
    """The tokens any question after `messages` (system prompt, examples, earlier turns) begins
    with in this mode: the same messages with two different questions, up to where they part.
    Raw mode continues the typed text only, so it has none."""
    if mode == "raw":
        return []
    a = prompt_tokens(engine, mode, [*messages, {"role": "user", "content": "a"}])
    b = prompt_tokens(engine, mode, [*messages, {"role": "user", "content": "b"}])
    return a[:common_prefix(a, b)]


def warm(engine: Engine, mode: str, messages: list[dict],
         cancelled: Callable[[], bool] | None = None) -> Prefill:
    """Evaluate (or restore) the stable prefix of `messages` now, so the next question starts
    from it; see Engine.warm."""
    return engine.warm(stable_prefix(engine, mode, messages), cancelled)
