"""Gather what the exporters need from the workspace (and, when loaded, the engine)."""

from pathlib import Path

from .document import PromptDocument
from .engine import Engine, SamplingParams
from .exporters import ExportInput
from .generation import choose_mode, raw_document
from .prompting import compose
from .urial import UrialTemplate, render_urial
from .workspace import Workspace, approx_tokens


def sampling_from(doc: PromptDocument) -> SamplingParams:
    p = SamplingParams()
    for k, v in doc.params.items():
        if hasattr(p, k):
            setattr(p, k, v)
    return p


def build_export_input(ws: Workspace, doc: PromptDocument, engine: Engine | None = None,
                       conversation_id: int | None = None, tasks=(), mode: str = "auto",
                       server: str | None = None, query: str | None = None) -> ExportInput:
    """The composed prompt (sections, pinned lessons, examples, a conversation, parameters).

    Args:
        query: a newest user message to end with (a /completion prompt needs one).
    """
    conversation = ([m.as_chat() for m in ws.conversations.path(conversation_id)]
                    if conversation_id else [])
    if query:
        conversation.append({"role": "user", "content": query})
    count = engine.count_tokens if engine and engine.loaded else approx_tokens
    n_ctx = engine.n_ctx if engine and engine.loaded else 0
    model_name = engine.info.name if engine and engine.loaded else ""
    pinned = ws.notebook.pinned()
    c = compose(doc, conversation, pinned=[l.ref() for l in pinned], count_tokens=count,
                n_ctx=n_ctx or 8192, model_name=model_name)
    bare = compose(doc, [], count_tokens=count, n_ctx=n_ctx or 8192, model_name=model_name)
    raw, mode_name, model, model_file = "", "chat", "local-model", ""
    if engine and engine.loaded:
        mode_name = choose_mode(engine.info, mode).name
        model_file = engine.info.path
        model = Path(model_file).stem
        if mode_name == "chat":
            raw = engine.render_chat(c.messages)
        elif mode_name == "urial":
            raw = render_urial(c.messages, UrialTemplate.default())
        else:
            raw = raw_document(c.messages)
    conversations = [[m.as_chat() for m in ws.conversations.path(row["id"])]
                     for row in ws.conversations.conversations()]
    kwargs = {"server": server} if server else {}
    return ExportInput(document=doc, system=c.system_prompt, messages=c.messages,
                       params=sampling_from(doc), model=model, model_file=model_file,
                       mode=mode_name, raw_prompt=raw,
                       lessons=[l.text for l in pinned if l.id in c.lessons_in_prompt],
                       tasks=[t.to_dict() for t in tasks], conversations=conversations,
                       base_system=bare.system_prompt, n_ctx=n_ctx, **kwargs)
