"""The one engine interface: what generation modes, composition, the session, the worker and
evaluations use, which the local llama.cpp Engine and the RemoteEngine both provide."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from workbench.runtime.params import LoadOptions, LoadResult, RunStats, SamplingParams


@runtime_checkable
class ModelEngine(Protocol):
    """A loaded model that streams answers. Stream methods yield text pieces, then one
    RunStats; cancel() may be called from any thread, everything else from one at a time.

    Attributes:
        info: the ModelInfo of the loaded model (a remote one's path is its URL#model).
        load_result: what load() returned; prompt_progress: told (done, total) while a
        prompt is processed, set by the caller.
    """

    info: Any
    load_result: LoadResult | None
    prompt_progress: Callable[[int, int], None] | None

    def load(self, path: str, options: LoadOptions | None = None,
             on_progress: Callable[[float], None] | None = None) -> LoadResult: ...

    def unload(self) -> None: ...

    @property
    def loaded(self) -> bool: ...

    @property
    def n_ctx(self) -> int: ...

    def tokenize(self, text: str, add_bos: bool = False, special: bool = True) -> list[int]: ...

    def count_tokens(self, text: str) -> int: ...

    def render_chat(self, messages: list[dict]) -> str: ...

    def chat_tokens(self, messages: list[dict]) -> list[int]: ...

    def completion_tokens(self, prompt: str) -> list[int]: ...

    def show_tokens(self, tokens: list[int]) -> str: ...

    def cancel(self) -> None: ...

    def stream_chat(self, messages: list[dict], params: SamplingParams | None = None,
                    json_schema: dict | None = None) -> Iterator[str | RunStats]: ...

    def stream_completion(self, prompt: str, params: SamplingParams | None = None,
                          stop: list[str] | None = None, json_schema: dict | None = None
                          ) -> Iterator[str | RunStats]: ...

    def cached_tokens(self, tokens: Sequence[int]) -> tuple[int, str]: ...

    def warm(self, tokens: Sequence[int], cancelled: Callable[[], bool] | None = None): ...


def exact_tokens(engine) -> bool:
    """Whether the engine's token counts are the model's own (a local model's always are)."""
    return bool(getattr(engine, "exact_tokens", True))


def exact_render(engine) -> bool:
    """Whether what-the-model-sees is the exact text after the chat template."""
    return bool(getattr(engine, "exact_render", True))


def exactness_note(engine) -> str:
    """One line for the window and the CLI: what is exact with this engine, and what estimated."""
    if exact_tokens(engine) and exact_render(engine):
        return "exact: the prompt text and token counts are the model's own"
    if exact_tokens(engine):
        return ("token counts exact; the chat template is applied by the server, so the text "
                "shown is an approximation")
    return ("estimated: this server does not tokenize or show its template, so token counts "
            "are estimates (about 4 characters a token) and the text shown is an approximation")
