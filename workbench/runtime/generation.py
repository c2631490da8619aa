"""Modes of generation (chat template, URIAL, raw) and exactly what the model sees in each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from workbench.errors import WorkbenchError
from workbench.prompt.urial import STOP as URIAL_STOP
from workbench.prompt.urial import UrialTemplate, render_urial
from workbench.runtime.models import ModelInfo
from workbench.runtime.params import RunStats, SamplingParams

if TYPE_CHECKING:  # only for type hints: importing it would load llama.cpp
    from workbench.runtime.engine import Engine

MODES = ("chat", "urial", "raw")
MODE_CHOICES = ("auto", *MODES)  # what a user may ask for


@dataclass(frozen=True)
class Mode:
    name: str  # "chat", "urial" or "raw"
    reason: str  # shown in the window and by the CLI


def choose_mode(info: ModelInfo, override: str | None = None) -> Mode:
    """Chat when the GGUF has a chat template, URIAL when it has none; the user may override."""
    if override and override != "auto":
        if override not in MODES:
            raise WorkbenchError(f"The mode is one of auto, {', '.join(MODES)}; not {override!r}.")
        if override == "chat" and info.kind == "base":
            raise WorkbenchError(f"{info.name} has no chat template, so chat mode cannot be used; "
                                 "use urial or raw.")
        return Mode(override, "chosen by you")
    if info.kind == "chat":
        return Mode("chat", "chat template found in the GGUF")
    return Mode("urial", "no chat template in the GGUF, so URIAL prompting makes this base "
                         "model answer like an assistant")


def raw_document(messages: list[dict]) -> str:
    """Raw mode continues exactly the newest user text: no system prompt, no template."""
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def prompt_text(engine: Engine, mode: str, messages: list[dict],
                template: UrialTemplate | None = None) -> str:
    """The prompt as text, before tokenizing (a completion request carries this)."""
    if mode == "chat":
        return engine.render_chat(messages)
    if mode == "urial":
        return render_urial(messages, template or UrialTemplate.default())
    return raw_document(messages)


def prompt_tokens(engine: Engine, mode: str, messages: list[dict],
                  template: UrialTemplate | None = None) -> list[int]:
    """The exact tokens the model is given."""
    if mode == "chat":
        return engine.chat_tokens(messages)  # the template writes BOS itself
    return engine.completion_tokens(prompt_text(engine, mode, messages, template))


def what_the_model_sees(engine: Engine, mode: str, messages: list[dict],
                        template: UrialTemplate | None = None) -> tuple[str, int]:
    """The prompt as text with special tokens (BOS, <|im_start|>...) visible, and its length."""
    tokens = prompt_tokens(engine, mode, messages, template)
    return engine.show_tokens(tokens), len(tokens)


def stream(engine: Engine, mode: str, messages: list[dict], params: SamplingParams,
           template: UrialTemplate | None = None, json_schema: dict | None = None
           ) -> Iterator[str | RunStats]:
    """Stream an answer in the given mode. URIAL answers end at the closing fence or
    the next `# Query`, which are never shown. json_schema constrains the output."""
    if mode == "chat":
        yield from engine.stream_chat(messages, params, json_schema)
        return
    if mode == "raw":
        yield from engine.stream_completion(raw_document(messages), params, json_schema=json_schema)
        return
    prompt = render_urial(messages, template or UrialTemplate.default())
    started = False
    for item in engine.stream_completion(prompt, params, stop=URIAL_STOP, json_schema=json_schema):
        if isinstance(item, str) and not started:
            item = item.lstrip("\n")  # the prompt ends with a fence and a newline
            started = bool(item)
            if not item:
                continue
        yield item


def collect(items) -> tuple[str, RunStats | None]:
    """A whole stream: its text and its closing RunStats."""
    pieces, stats = [], None
    for item in items:
        if isinstance(item, RunStats):
            stats = item
        else:
            pieces.append(item)
    return "".join(pieces), stats
