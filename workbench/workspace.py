"""The user's workspace: the stores over one database, and composing the active prompt."""

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench.chat.conversations import ConversationStore
from workbench.chat.runs import RunLog
from workbench.db import open_db
from workbench.notebook.lessons import Notebook
from workbench.prompt.compose import Composition, compose
from workbench.prompt.document import PromptDocument
from workbench.prompt.store import PromptStore, trash_due


def approx_tokens(text: str) -> int:
    """About four characters a token: for when no model is loaded to count exactly."""
    return math.ceil(len(text) / 4)


def model_terms(engine=None) -> tuple[Callable[[str], int], int, str]:
    """How composition counts and fills {{model}}: the loaded model's tokenizer, context and
    name, or an estimate when none is loaded (engine: an Engine or None; not imported here
    so the notebook commands do not load llama.cpp)."""
    if engine is not None and engine.loaded:
        return engine.count_tokens, engine.n_ctx, engine.info.name
    return approx_tokens, 8192, ""


def engine_mode(engine=None) -> str:
    """The mode a loaded engine answers in by default (chat template or URIAL); "chat" with
    no model loaded."""
    if engine is None or not engine.loaded:
        return "chat"
    if getattr(engine, "chat_problem", None):  # a refused chat template: URIAL instead
        return "urial"
    from workbench.runtime.generation import choose_mode  # kept off the notebook commands' path
    return choose_mode(engine.info).name


@dataclass
class Workspace:
    prompts: PromptStore
    conversations: ConversationStore
    runs: RunLog
    notebook: Notebook

    @classmethod
    def open(cls, path: str | Path | None = None) -> "Workspace":
        db = open_db(path)
        ws = cls(PromptStore(db), ConversationStore(db), RunLog(db), Notebook(db))
        days = trash_due(db)  # one indexed query; the purge (and its imports) only when due
        if days:
            from workbench.chat.library import purge_at_open  # it imports this module
            purge_at_open(ws, days)
        return ws

    @property
    def db(self):
        return self.prompts.db

    def compose(self, doc: PromptDocument, conversation: list[dict], engine=None,
                mode: str | None = None) -> Composition:
        """Compose doc with the pinned lessons and those relevant to the newest user message,
        counted with engine's tokenizer when a model is loaded (see model_terms), placed for
        mode (chat, urial, raw; default: the mode the loaded model answers in, see engine_mode)."""
        count_tokens, n_ctx, model_name = model_terms(engine)
        newest = next((m["content"] for m in reversed(conversation) if m["role"] == "user"), "")
        retrieved = self.notebook.relevant(newest, doc.retrieval_k) if newest else []
        return compose(doc, conversation, pinned=[l.ref() for l in self.notebook.pinned()],
                       retrieved=[l.ref() for l in retrieved], count_tokens=count_tokens,
                       n_ctx=n_ctx, model_name=model_name, mode=mode or engine_mode(engine))


def render_document(doc: PromptDocument, model_name: str = "") -> str:
    """A document as readable text (system prompt, then examples): what versions diff."""
    c = compose(doc, [], count_tokens=approx_tokens, n_ctx=0, model_name=model_name)
    parts = [c.system_prompt]
    for ex in doc.examples:
        parts.append(f"[example]\nUser: {ex.user}\nAssistant: {ex.assistant}")
    return "\n\n".join(parts) + "\n"
