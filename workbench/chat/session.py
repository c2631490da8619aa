"""The session the window and the CLI drive: the open prompt document, the open conversation and
the candidates for the next turn. Qt-free: it decides what Send, Regenerate, Accept, edit and
branch do, plans the candidates of a comparison and refuses a turn that cannot run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from workbench.chat.consistency import Vote, vote
from workbench.chat.conversations import Message
from workbench.chat.runs import RunRecord
from workbench.db import DatabaseBusyError
from workbench.errors import WorkbenchError
from workbench.prompt.compose import Composition
from workbench.prompt.document import PromptDocument, Section
from workbench.prompt.store import Version
from workbench.runtime.engines import display_name, model_kind
from workbench.runtime.generation import Mode, choose_mode, stream, what_the_model_sees
from workbench.runtime.interface import exact_render, exact_tokens, exactness_note
from workbench.runtime.models import read_model_info
from workbench.runtime.params import RunStats, SamplingParams
from workbench.runtime.remote import is_remote
from workbench.workspace import Workspace, model_terms

if TYPE_CHECKING:  # only for type hints: importing it would load llama.cpp
    from workbench.runtime.engine import Engine

MIN_FREE_TOKENS = 16  # room a turn needs to say anything at all
BUSY_ATTEMPTS = 12  # each waits for the lock (about 10 s), so an answer is kept 2 minutes
UNSENT_KEY = "unsent:"  # settings rows holding the message typed but not sent, per conversation


@dataclass
class Pending:
    """What the candidates on screen answer, and where an accepted one goes."""

    kind: str  # "new": append question+answer; "reply": append answer; "regen": fork answer
    user_text: str
    composition: Composition
    conversation: list[dict]  # the turns the answer follows, ending with the question
    target_id: int | None = None  # the answer being regenerated
    version: Version | None = None  # "rerun": the saved version the logged run came from
    params: dict | None = None  # "rerun": the logged run's sampling parameters


@dataclass
class Candidate:
    """One answer to plan: which prompt makes it, and which model answers."""

    label: str
    composition: Composition
    version: Version | None = None  # a saved version, or None for the current draft
    model: tuple[str, str] | None = None  # another model: (GGUF path, its mode)


@dataclass
class ShownMessage:
    """A message on the current path, with where it sits among its branches."""

    message: Message
    branch: int  # 1-based position among its siblings
    branches: int
    prev_id: int | None
    next_id: int | None


def _patiently(write: Callable[[], object], on_busy, attempts: int = BUSY_ATTEMPTS):
    """write(), tried again while the database stays busy (each try waits for the lock)."""
    for n in range(attempts):
        try:
            return write()
        except DatabaseBusyError as e:
            if n == attempts - 1:
                raise
            if on_busy:
                on_busy(e)


class ChatSession:
    """Args:
        workspace: the stores.
        engine: the Engine that answers (the window's is loaded on another thread; set
            model_ready when it is).
        system_override: use this text as the whole system prompt instead of the
            active document's sections (lessons still apply).
        conversation_id: continue this conversation (default: a new one, stored with its
            first answer, so a chat that fails leaves no empty conversation behind).
        mode: "auto" (chat template if the model has one, else URIAL), "chat", "urial", "raw".
    """

    def __init__(self, workspace: Workspace, engine: Engine, system_override: str | None = None,
                 conversation_id: int | None = None, mode: str = "auto"):
        self.ws, self.engine = workspace, engine
        self.mode_choice = mode
        self.model_ready = engine.loaded
        self.document_id = workspace.prompts.active_id()
        self.document = workspace.prompts.load_draft(self.document_id)
        if system_override is not None:
            self.document = PromptDocument(name="command line",
                                           sections=[Section("system", system_override)])
        known = {c["id"] for c in workspace.conversations.conversations()}
        self.conversation_id: int | None = conversation_id if conversation_id in known else None
        self.pending: Pending | None = None
        self.candidates: list[Candidate] = []
        self.edit_mode: tuple[str, int] | None = None  # ("edit" | "branch", message id)
        # (from, to): the open new conversation was stored, its unsent message moved with it.
        self.unsent_moved: tuple[str, str] | None = None
        self.last_composition: Composition | None = None
        self.last_run_id: int | None = None

    # -- the model -----------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        """The Mode in use with the loaded model, and why."""
        problem = getattr(self.engine, "chat_problem", None)  # a chat template that was refused
        if problem and self.mode_choice in (None, "", "auto"):
            return Mode("urial", f"its chat template cannot be used ({problem}), so URIAL prompting "
                                 "is used instead")
        return choose_mode(self.engine.info, self.mode_choice)

    @property
    def counting_engine(self) -> Engine | None:
        # While a model (re)loads on the engine thread, count with the estimate.
        return self.engine if self.model_ready else None

    def what_the_model_sees(self, c: Composition) -> tuple[str, str]:
        """The exact prompt text and a line about it (tokens, mode); WorkbenchError when the
        model cannot take it (e.g. its template fails)."""
        if not self.model_ready:
            return "", "Load a model to see the exact prompt it gets."
        mode = self.mode
        text, n = what_the_model_sees(self.engine, mode.name, c.messages)
        line = f"{n:,} tokens · {mode.name} mode: {mode.reason}"
        if not (exact_tokens(self.engine) and exact_render(self.engine)):
            line += f" · {exactness_note(self.engine)}"
        return text, line

    # -- the prompt document --------------------------------------------------------

    def open_document(self, doc_id: int) -> None:
        self.save_draft()
        self.ws.prompts.set_active(doc_id)
        self.document_id = doc_id
        self.document = self.ws.prompts.load_draft(doc_id)

    def save_draft(self) -> None:
        self.ws.prompts.save_draft(self.document_id, self.document)

    def save_version(self, note: str = "") -> Version:
        return self.ws.prompts.save_version(self.document_id, self.document, note=note)

    def import_file(self, path: str | Path) -> PromptDocument:
        """A prompt file from another tool becomes a new document, opened here."""
        # Imported here: the importers (and yaml) are not needed to open the window.
        from workbench.share.importers import import_text, read_import_file
        name = Path(path).name
        text = read_import_file(path)
        try:
            doc = import_text(text, None, name)
        except WorkbenchError as e:
            raise WorkbenchError(f"{name} was not imported: {e}") from e
        self.open_document(self.ws.prompts.create(doc))
        return doc

    def compare_choices(self, model_paths: list[str]) -> list[tuple[str, int | str | None]]:
        """What candidates can compare: N samples, the draft against each saved version,
        or the loaded model against each other model (label, choice)."""
        choices: list[tuple[str, int | str | None]] = [("samples of this prompt", None)]
        choices += [(f"draft vs version {v.number}", v.number)
                    for v in reversed(self.ws.prompts.versions(self.document_id))]
        loaded = self.engine.info.path if self.model_ready else None
        choices += [(f"this model vs {Path(p).name}", p) for p in model_paths if p and p != loaded]
        return choices

    # -- composing --------------------------------------------------------------------

    def _path(self) -> list[Message]:
        return self.ws.conversations.path(self.conversation_id) if self.conversation_id else []

    def ensure_conversation(self) -> int:
        """The open conversation's id, storing it now if it is new."""
        if self.conversation_id is None:
            old_key = self.unsent_key()
            with self.ws.db.atomic("new conversation"):
                cid = self.ws.conversations.create(document_id=self.document_id)
                # What was typed for the new conversation is now this one's.
                self.ws.db.execute("update settings set key = ? where key = ?",
                                   [f"{UNSENT_KEY}conversation:{cid}", old_key])
            self.conversation_id = cid
            self.unsent_moved = (old_key, self.unsent_key())
        return self.conversation_id

    def history(self) -> list[dict]:
        return [m.as_chat() for m in self._path()]

    def compose_turns(self, conversation: list[dict]) -> Composition:
        return self.ws.compose(self.document, conversation, self.counting_engine,
                               mode=self._compose_mode())

    def _compose_mode(self) -> str | None:
        """The mode retrieved lessons are placed for: this session's, once a model is ready."""
        if not self.model_ready:
            return None
        try:
            return self.mode.name
        except WorkbenchError:  # plan() says why; composing must not fail over it
            return None

    def compose(self, user_text: str) -> Composition:
        return self.compose_turns([*self.history(), {"role": "user", "content": user_text}])

    def preview(self, typed: str = "") -> tuple[Composition, str]:
        """The composition with what is being typed, and the system prompt as shown."""
        typed = typed.strip()
        c = self.compose(typed) if typed else self.compose_turns(self.history())
        shown = c.system_prompt
        if c.unknown_variables:
            shown += ("\n\n[unknown variables, left as written: "
                      + ", ".join("{{%s}}" % v for v in c.unknown_variables) + "]")
        return c, shown

    def enforce_budget(self) -> str:
        """Keep the pinned lessons within the document's budget; what moved, as a message."""
        count_tokens, _, _ = model_terms(self.counting_engine)
        budget = self.document.lesson_budget
        moved = self.ws.notebook.enforce_budget(budget, count_tokens)
        if not moved:
            return ""
        return (f"The pinned lessons outgrew their {budget}-token budget, so the least helpful "
                "became retrieved-only (still used when relevant): "
                + "; ".join(f"#{lesson.id} {lesson.text}" for lesson in moved))

    # -- the conversation -------------------------------------------------------------

    def shown_messages(self) -> list[ShownMessage]:
        convs, shown = self.ws.conversations, []
        for m in self._path():
            sib = convs.siblings(m.id)
            i = sib.index(m.id)
            shown.append(ShownMessage(m, i + 1, len(sib), sib[i - 1] if i > 0 else None,
                                      sib[i + 1] if i + 1 < len(sib) else None))
        return shown

    def unsent_key(self) -> str:
        """Where the message being typed is kept: per conversation, and per prompt for a new
        conversation (it has no id until its first answer)."""
        if self.conversation_id is not None:
            return f"{UNSENT_KEY}conversation:{self.conversation_id}"
        return f"{UNSENT_KEY}document:{self.document_id}"

    def unsent(self, key: str | None = None) -> str:
        """The message typed but not sent yet under key (default: the open conversation's)."""
        rows = list(self.ws.db["settings"].rows_where("key = ?", [key or self.unsent_key()]))
        return rows[0]["value"] if rows else ""

    def save_unsent(self, text: str, key: str | None = None) -> None:
        """Keep the message being typed (empty: forget it); WorkbenchError when the database
        cannot take it (nothing changed: try again)."""
        key = key or self.unsent_key()
        with self.ws.db.atomic("unsent message"):
            if text.strip():
                self.ws.db["settings"].upsert({"key": key, "value": text}, pk="key")
            else:
                self.ws.db.execute("delete from settings where key = ?", [key])

    def new_conversation(self) -> None:
        self.conversation_id = None
        self.unsent_moved = None
        self.pending, self.candidates, self.edit_mode = None, [], None

    def switch_branch(self, message_id: int) -> None:
        self.ws.conversations.switch_to(message_id)

    def delete_message(self, message_id: int) -> int:
        """Move a message and everything after it to the trash; returns the trash entry
        (ws.conversations.undelete(entry) brings them back)."""
        self.edit_mode = None
        return self.ws.conversations.delete(message_id)

    def open_conversation(self, conversation_id: int | None) -> None:
        """Continue a stored conversation (None: a new one); the candidates on screen go."""
        if conversation_id is not None:
            self.ws.conversations.get(conversation_id)  # WorkbenchError when there is none
        self.new_conversation()
        self.conversation_id = conversation_id

    def rerun(self, run_id: int) -> Pending:
        """The logged run's exact messages and parameters again, as a pending turn (its
        answers are logged as runs; they belong to no conversation)."""
        run = self.ws.runs.get(run_id)
        messages = run["messages"] or []
        if not any(m.get("role") == "user" for m in messages):
            raise WorkbenchError(f"Run {run_id} has no question to ask again.")
        count_tokens, n_ctx, _ = model_terms(self.counting_engine)
        c = Composition(system_prompt=next((m["content"] for m in messages if m["role"] == "system"), ""),
                        messages=messages, breakdown={}, n_ctx=n_ctx,
                        total_tokens=sum(count_tokens(m["content"]) for m in messages),
                        lessons_in_prompt=list(run["lesson_ids"] or []))
        version = self.ws.prompts.version_by_id(run["version_id"]) if run["version_id"] else None
        turns = [m for m in messages if m["role"] != "system"]
        return Pending("rerun", turns[-1]["content"], c, turns, version=version,
                       params=run["params"])

    def start_edit(self, action: str, message_id: int | None) -> str:
        """Enter edit or branch mode on a message (None leaves it); returns its text."""
        if message_id is None:
            self.edit_mode = None
            return ""
        text = next(m.content for m in self._path() if m.id == message_id)
        self.edit_mode = (action, message_id)
        return text

    # -- the next turn ------------------------------------------------------------------

    def send(self, text: str) -> Pending | None:
        """What Send does with the typed text: a new question to answer, or the edit being
        saved (a new branch on a question is a question to answer; None: nothing to run)."""
        text = text.strip()
        if not text:
            return None
        if self.edit_mode is None:
            convo = self.history() + [{"role": "user", "content": text}]
            return Pending("new", text, self.compose_turns(convo), convo)
        action, message_id = self.edit_mode
        self.edit_mode = None
        if action == "edit":
            self.ws.conversations.edit(message_id, text)
            return None
        new = self.ws.conversations.fork(message_id, text)
        if new.role != "user":
            return None
        history = self.history()
        return Pending("reply", text, self.compose_turns(history), history)

    def regenerate(self) -> Pending | None:
        """New candidates for the last answer (accepting one makes a new branch), an answer
        to a question left unanswered, or the same request again."""
        path = self._path()
        if path and path[-1].role == "assistant" and len(path) >= 2:
            history = [m.as_chat() for m in path[:-1]]
            return Pending("regen", history[-1]["content"], self.compose_turns(history), history,
                           target_id=path[-1].id)
        if path and path[-1].role == "user":
            history = [m.as_chat() for m in path]
            return Pending("reply", path[-1].content, self.compose_turns(history), history)
        return self.pending

    def plan(self, pending: Pending, compare: int | str | None = None,
             samples: int = 1) -> list[Candidate]:
        """The candidates for pending: N samples (compare None), the draft against saved
        version number `compare`, or the loaded model against the GGUF at path `compare`.
        Raises WorkbenchError, with what to do, when the turn cannot run."""
        if not self.model_ready:
            raise WorkbenchError("No model is loaded yet. Choose one in the Model panel and press Load.")
        self.mode  # raises when the chosen mode does not suit the model
        c = pending.composition
        if pending.kind == "rerun":  # a logged run again, exactly: nothing to compare with
            compare = None
        if c.free_tokens < MIN_FREE_TOKENS:
            raise WorkbenchError(
                f"The context is full: the prompt needs {c.total_tokens:,} of {c.n_ctx:,} tokens. "
                "Shorten the prompt or the conversation (delete old messages, retire lessons), "
                "or load the model with a larger context.")
        if compare is None:
            candidates = [Candidate(f"Candidate {i + 1}", c, pending.version)
                          for i in range(max(1, samples))]
        elif isinstance(compare, str):  # another model answers the same composed prompt
            # A server's model is classified without a request (the window thread never waits).
            mode = (("chat" if model_kind(compare) == "chat" else "urial") if is_remote(compare)
                    else choose_mode(read_model_info(compare)).name)
            # Composed again for the other model's mode: retrieved lessons are placed per mode.
            theirs = self.ws.compose(self.document, pending.conversation, self.counting_engine,
                                     mode=mode)
            candidates = [Candidate(self.engine.info.name, c),
                          Candidate(f"{display_name(compare)} ({mode})", theirs, model=(compare, mode))]
        else:
            version = self.ws.prompts.version(self.document_id, compare)
            other = self.ws.compose(version.document, pending.conversation, self.counting_engine,
                                    mode=self._compose_mode())
            candidates = [Candidate("Current draft", c), Candidate(f"Version {compare}", other, version)]
        self.pending, self.candidates = pending, candidates
        return candidates

    def majority(self, texts: list[str], compare: int | str | None, pattern: str | None) -> Vote | None:
        """Self-consistency over samples of one prompt; a vote needs three."""
        if compare is not None or len(texts) < 3:
            return None
        return vote(texts, pattern or None)

    def accept(self, answer: str) -> None:
        """Put the chosen candidate into the conversation where the pending turn says."""
        p, convs = self.pending, self.ws.conversations
        if p is None:
            raise WorkbenchError("There is no answer waiting to be accepted.")
        if p.kind == "rerun":
            raise WorkbenchError("A re-run's answers are logged in the run log to compare with "
                                 "the original; they belong to no conversation. To answer in a "
                                 "conversation, open it and press Regenerate.")
        answer = answer.strip()
        if p.kind == "new":
            self.append_turn(p.user_text, answer)
        elif p.kind == "reply":
            convs.append(self.ensure_conversation(), "assistant", answer)
        else:
            convs.fork(p.target_id, answer)
        self.pending, self.candidates = None, []

    def append_turn(self, user_text: str, answer: str) -> None:
        """Put a question and its chosen answer into the conversation."""
        with self.ws.db.atomic("turn"):  # both or neither, so a retry never doubles the question
            cid = self.ensure_conversation()
            self.ws.conversations.append(cid, "user", user_text)
            self.ws.conversations.append(cid, "assistant", answer)

    # -- running and logging ------------------------------------------------------------

    def ask(self, user_text: str, params: SamplingParams,
            on_busy: Callable[[WorkbenchError], None] | None = None) -> Iterator[str | RunStats]:
        """Stream the answer; the turn is stored and the run logged once it completes. While
        another program holds the database, the answer is kept and written when it frees
        (on_busy is told each time it has to wait again)."""
        c = self.last_composition = self.compose(user_text)
        pieces, stats = [], None
        for item in stream(self.engine, self.mode.name, c.messages, params):
            if isinstance(item, RunStats):
                stats = item
            else:
                pieces.append(item)
            yield item
        answer = "".join(pieces).strip()
        _patiently(lambda: self.log_run(c, params, answer, stats), on_busy)
        _patiently(lambda: self.append_turn(user_text, answer), on_busy)

    def log_candidate(self, i: int, params: SamplingParams, output: str, stats: RunStats,
                      other: Engine | None = None) -> int:
        """Log planned candidate i (the window logs every one, accepted or not); the model
        file is hashed later, off the window's thread (RunLog.remember_sha256)."""
        c = self.candidates[i]
        return self.log_run(c.composition, params, output, stats, version=c.version, engine=other,
                            mode=c.model[1] if c.model else None, hash_now=False)

    def log_run(self, c: Composition, params: SamplingParams, output: str, stats: RunStats,
                version: Version | None = None, engine: Engine | None = None,
                mode: str | None = None, hash_now: bool = True) -> int:
        """Record one generation.

        Args:
            version: the saved Version the prompt came from, when it was not the draft.
            engine, mode: another model that answered (a comparison), and its mode.
            hash_now: hash an unknown model file now (False: leave it for later).
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
            conversation_id=self.ensure_conversation(),
            lesson_ids=c.lessons_in_prompt + c.lessons_retrieved,
            model_sha256=None if hash_now else (self.ws.runs.cached_sha256(engine.info.path) or "")))
        return self.last_run_id
