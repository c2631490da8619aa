"""One chat with a loaded model: compose the active prompt, stream, keep the turn, log the run."""

from typing import Iterator

from .document import PromptDocument, Section
from .engine import Engine, RunStats, SamplingParams
from .generation import choose_mode, stream, what_the_model_sees
from .prompting import Composition
from .runs import RunRecord
from .workspace import Workspace


class ChatSession:
    """Args:
        workspace: the stores.
        engine: an Engine with a chat model loaded.
        system_override: use this text as the whole system prompt instead of the
            active document's sections (lessons still apply).
        conversation_id: continue this conversation (default: a new one).
        mode: "auto" (chat template if the model has one, else URIAL), "chat", "urial", "raw".
    """

    def __init__(self, workspace: Workspace, engine: Engine, system_override: str | None = None,
                 conversation_id: int | None = None, mode: str = "auto"):
        self.ws, self.engine = workspace, engine
        self.mode_choice = mode
        self.document_id = workspace.prompts.active_id()
        self.document = workspace.prompts.load_draft(self.document_id)
        if system_override is not None:
            self.document = PromptDocument(name="command line",
                                           sections=[Section("system", system_override)])
        self.conversation_id = conversation_id or workspace.conversations.create(
            document_id=self.document_id)
        self.last_composition: Composition | None = None
        self.last_run_id: int | None = None

    @property
    def mode(self):
        """The Mode in use with the loaded model, and why."""
        return choose_mode(self.engine.info, self.mode_choice)

    def history(self) -> list[dict]:
        return [m.as_chat() for m in self.ws.conversations.path(self.conversation_id)]

    def compose(self, user_text: str) -> Composition:
        return self.ws.compose(self.document, [*self.history(), {"role": "user", "content": user_text}],
                               self.engine)

    def ask(self, user_text: str, params: SamplingParams) -> Iterator[str | RunStats]:
        """Stream the answer; the turn is stored and the run logged once it completes."""
        c = self.last_composition = self.compose(user_text)
        pieces, stats = [], None
        for item in stream(self.engine, self.mode.name, c.messages, params):
            if isinstance(item, RunStats):
                stats = item
            else:
                pieces.append(item)
            yield item
        answer = "".join(pieces).strip()
        self.log_run(c, params, answer, stats)
        self.accept(user_text, answer)

    def log_run(self, c: Composition, params: SamplingParams, output: str, stats: RunStats,
                version=None, engine: Engine | None = None, mode: str | None = None,
                hash_now: bool = True) -> int:
        """Record one generation (the window logs every candidate, accepted or not).

        Args:
            version: the saved Version the prompt came from, when it was not the draft.
            engine, mode: another model that answered (a comparison), and its mode.
            hash_now: hash an unknown model file now; the window passes False and has
                the hash computed off its thread (RunLog.remember_sha256 fills it in).
        """
        engine = engine or self.engine
        latest = version or self.ws.prompts.latest(self.document_id)
        saved = version is not None or (
            latest and latest.document.content_hash() == self.document.content_hash())
        mode = mode or self.mode.name
        self.last_run_id = self.ws.runs.log(RunRecord(
            model_file=engine.info.path, model_name=engine.info.name, mode=mode,
            params=params.to_dict(),
            rendered_prompt=what_the_model_sees(engine, mode, c.messages)[0],
            messages=c.messages, output=output, stats=stats.to_dict(),
            document_id=self.document_id, version_id=latest.id if saved else None,
            conversation_id=self.conversation_id,
            lesson_ids=c.lessons_in_prompt + c.lessons_retrieved,
            model_sha256=None if hash_now else (self.ws.runs.cached_sha256(engine.info.path) or "")))
        return self.last_run_id

    def accept(self, user_text: str, answer: str) -> None:
        """Put a question and its chosen answer into the conversation."""
        self.ws.conversations.append(self.conversation_id, "user", user_text)
        self.ws.conversations.append(self.conversation_id, "assistant", answer)
