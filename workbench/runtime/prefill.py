"""Prompt processing's bookkeeping, free of the binding: batch and snapshot sizes, what evaluating
a prompt's beginning did (Prefill), and where a prompt's stable prefix ends (the next call shares it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from workbench.errors import WorkbenchError
from workbench.runtime.prompt_cache import common_prefix

PREFILL_BATCH = 256  # tokens per step of prompt processing: progress and Stop come between steps
MIN_SNAPSHOT_TOKENS = 64  # a shorter prefix is processed again faster than a snapshot is handled
RESTORE_MARGIN = 32  # restore only when it saves at least this many tokens over the live context
STABLE_HINTS = 8  # stable prefixes remembered from warm-ups


class PromptCancelled(Exception):
    """Stop was pressed while the prompt was being processed; `prefill` says how far it got."""

    def __init__(self, prefill: Prefill):
        super().__init__("cancelled")
        self.prefill = prefill


@dataclass
class Prefill:
    """What evaluating a prompt's beginning did: tokens reused (live context or a snapshot),
    where they came from ("live", "memory", "disk" or ""), and tokens processed."""

    total: int
    reused: int = 0
    source: str = ""
    processed: int = 0
    cancelled: bool = False


def chat_turn_boundary(messages: list[dict], tokens: list[int],
                       chat_tokens: Callable[[list[dict]], list[int]]) -> int:
    """Where the newest question begins: what comes before it (system prompt, examples,
    earlier turns) is what the next call shares. Found by rendering the same messages with
    two different questions: their common tokens stop where the question starts, whatever
    the template writes around it."""
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=None)
    if last_user is None:
        return 0
    before = messages[:last_user]
    try:
        a = chat_tokens([*before, {"role": "user", "content": "a"}])
        b = chat_tokens([*before, {"role": "user", "content": "b"}])
    except WorkbenchError:
        return 0
    return min(common_prefix(a, b), common_prefix(a, tokens))


def text_turn_boundary(prompt: str, stop: list[str], tokens: list[int],
                       completion_tokens: Callable[[str], list[int]]) -> int:
    """For a completion prompt, a turn begins where the model would have been stopped: the
    stable prefix ends at the earliest of the stop strings' last occurrences (URIAL: the
    newest `# Query`). A prompt with no stop strings (raw) has no stable prefix."""
    ends = [prompt.rfind(s) for s in stop if s]
    ends = [e for e in ends if e > 0]
    if not ends:
        return 0
    return common_prefix(completion_tokens(prompt[:min(ends)]), tokens)
