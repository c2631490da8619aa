"""Gather what the exporters need from the workspace (and, when loaded, the engine)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import WorkbenchError
from workbench.prompt.compose import compose
from workbench.prompt.document import PromptDocument
from workbench.runtime.generation import choose_mode, prompt_text
from workbench.runtime.params import SamplingParams
from workbench.share.exporters import ExportInput
from workbench.share.finetune import training_conversations
from workbench.workspace import Workspace, model_terms

if TYPE_CHECKING:  # only for type hints: importing it would load llama.cpp
    from workbench.runtime.engine import Engine


def _default_model_file() -> str:
    """The default chat model's path when it is there (Ollama's FROM needs a file)."""
    from workbench.runtime.models import default_model_path
    try:
        return str(default_model_path("chat").resolve())
    except WorkbenchError:
        return ""


def document_tasks(ws: Workspace, document_id: int) -> list[dict]:
    """Every case of the document's test sets, in the sets' order: what a promptfoo export
    tests when no task file is given (the window's export)."""
    from workbench.evals.sets import TestSetStore
    store = TestSetStore(ws.db)
    return [t.to_dict() for s in store.sets(document_id) for t in store.tasks(s["id"])]


def build_export_input(ws: Workspace, doc: PromptDocument, engine: Engine | None = None,
                       conversation_id: int | None = None, tasks=(), mode: str = "auto",
                       server: str | None = None, query: str | None = None) -> ExportInput:
    """The composed prompt (sections, pinned lessons, examples, a conversation, parameters),
    composed exactly as the workbench composes it, retrieved lessons included.

    Args:
        query: a newest user message to end with (a /completion prompt needs one).
    """
    conversation = ([m.as_chat() for m in ws.conversations.path(conversation_id)]
                    if conversation_id else [])
    if query:
        conversation.append({"role": "user", "content": query})
    loaded = engine is not None and engine.loaded
    mode_name = choose_mode(engine.info, mode).name if loaded else "chat"
    c = ws.compose(doc, conversation, engine, mode=mode_name)
    count_tokens, n_ctx, model_name = model_terms(engine)
    bare = compose(doc, [], count_tokens=count_tokens, n_ctx=n_ctx, model_name=model_name)
    raw, model, model_file = "", "local-model", ""
    if loaded:
        model_file = engine.info.path
        model = Path(model_file).stem
        raw = prompt_text(engine, mode_name, c.messages)
    pinned = {lesson.id: lesson.ref() for lesson in ws.notebook.pinned()}
    start = 1 if c.system_prompt else 0
    turns = [m for m in conversation if m["role"] != "system"]  # as compose takes them
    unfilled = list(c.unknown_variables)
    if not model_name and "{{model}}" in c.system_prompt:
        unfilled.insert(0, "model")
    kwargs = {"server": server} if server else {}
    return ExportInput(document=doc, system=c.system_prompt, messages=c.messages,
                       params=SamplingParams.from_dict(doc.params), model=model,
                       model_file=model_file or _default_model_file(), model_chosen=loaded,
                       mode=mode_name, raw_prompt=raw,
                       lessons=[pinned[i].text for i in c.lessons_in_prompt],
                       lesson_demos=[pinned[i].demo for i in c.lessons_in_prompt],
                       tasks=[t if isinstance(t, dict) else t.to_dict() for t in tasks],
                       load_conversations=lambda: training_conversations(ws, bare.system_prompt, doc),
                       # Retrieved lessons' exchanges sit between the conversation so far and
                       # the newest question: they are not few-shot examples of the prompt.
                       few_shot=c.messages[start:len(c.messages) - len(turns) - c.retrieved_messages],
                       base_system=bare.system_prompt, n_ctx=n_ctx if loaded else 0,
                       unfilled=unfilled, **kwargs)
