"""The main window: prompt, conversation and outputs side by side; notebook, model and sampling below."""

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (QComboBox, QDockWidget, QFileDialog, QHBoxLayout, QLabel,
                               QMainWindow, QPlainTextEdit, QProgressBar, QPushButton, QSplitter, QVBoxLayout,
                               QWidget)

from ..chat_session import ChatSession
from ..consistency import vote
from ..curation import rate_run
from ..proposals import ProposalStore
from ..engine import Engine, RunStats
from ..errors import WorkbenchError
from ..export_builder import build_export_input
from ..generation import choose_mode, what_the_model_sees
from ..importers import import_text
from ..models import DEFAULT_CHAT_MODEL, models_dir, read_model_info
from ..prompting import Composition
from ..workspace import Workspace, model_terms
from .conversation_view import ConversationView, ShownMessage
from .export_dialog import ExportDialog
from .model_panel import ModelPanel
from .notebook_panel import NotebookPanel
from .outputs_view import OutputsView, stats_line
from .prompt_panel import PromptPanel
from .sampling_panel import SamplingPanel
from .learning import LearningController
from .worker import EngineWorker, GenerationRequest

AUTOSAVE_MS = 400  # killing the app loses at most this much typing (target: under 1 s)
RECOMPOSE_MS = 150
SLOW_PROMPT_MS = 1000  # show the prompt-processing bar when the first token takes longer


@dataclass
class Pending:
    """What the candidates on screen answer, and where an accepted one goes."""

    kind: str  # "new": append question+answer; "reply": append answer; "regen": fork answer
    user_text: str
    composition: Composition
    target_id: int | None = None  # the answer being regenerated
    conversation: list[dict] | None = None  # the turns the question closes


@dataclass
class Candidate:
    """One column of the outputs pane: which prompt made it."""

    label: str
    composition: Composition
    version: object = None  # a saved Version, or None for the current draft
    model: tuple[str, str] | None = None  # another model: (GGUF path, its mode)


class MainWindow(QMainWindow):
    """Args:
        workspace: the stores; engine: the Engine the worker owns (read-only use here:
        token counts and model info); worker: the EngineWorker in its thread;
        settings: QSettings for window state.

    Signals:
        requestLoad(str, object), requestGenerate(object): queued calls into the worker.
    """

    requestLoad = Signal(str, object)
    requestGenerate = Signal(object)
    requestHash = Signal(str)

    def __init__(self, workspace: Workspace, engine: Engine, worker: EngineWorker,
                 settings: QSettings, gpu_supported: bool):
        super().__init__()
        self.ws, self.engine, self.worker, self.settings = workspace, engine, worker, settings
        self.setWindowTitle("Prompt Workbench")
        self.model_ready = False
        self.generating = False
        self.pending: Pending | None = None
        self.candidates: list[Candidate] = []
        self.export_dialog: ExportDialog | None = None
        self._loading_document = False
        self.setAcceptDrops(True)  # drop a prompt file to import it
        self.edit_mode: tuple[str, int] | None = None  # ("edit" | "branch", message id)

        self.document_id = workspace.prompts.active_id()
        self.session = ChatSession(workspace, engine, conversation_id=self._last_conversation())

        self._build(gpu_supported)
        self._wire()
        self._show_document()
        self.show_conversation()
        self.recompose()
        self._restore_layout()

    # -- building ------------------------------------------------------------------

    def _build(self, gpu_supported: bool) -> None:
        self.banner = QLabel()
        self.banner.setObjectName("errorBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background:#FDECEA;color:#8C1D18;padding:8px;border-radius:4px")
        self.banner.hide()

        self.prompt = PromptPanel()
        self.conversation = ConversationView()
        self.input = QPlainTextEdit()
        self.input.setObjectName("messageInput")
        self.input.setPlaceholderText("Message… (Ctrl+Enter to send, Esc to stop)")
        self.input.setMaximumHeight(110)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("sendButton")
        self.send_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setEnabled(False)
        self.regen_button = QPushButton("Regenerate")
        self.regen_button.setObjectName("regenerateButton")
        self.cancel_edit = QPushButton("Cancel edit")
        self.cancel_edit.hide()
        buttons = QHBoxLayout()
        for b in (self.send_button, self.stop_button, self.regen_button, self.cancel_edit):
            buttons.addWidget(b)
        buttons.addStretch()
        self.mode_label = QLabel()
        self.mode_label.setObjectName("modeLabel")
        self.mode_label.setStyleSheet("color:#5F6B7A")
        buttons.addWidget(self.mode_label)

        middle = QWidget()
        mid = QVBoxLayout(middle)
        mid.setContentsMargins(6, 6, 6, 6)
        title = QLabel("Conversation")
        title.setObjectName("paneTitle")
        mid.addWidget(title)
        mid.addWidget(self.conversation, 1)
        mid.addWidget(self.input)
        mid.addLayout(buttons)

        self.outputs = OutputsView()
        self.compare = QComboBox()
        self.compare.setObjectName("compareCombo")
        self.compare.setToolTip("Several samples of the current prompt, or the current draft "
                                "against a saved version of it")
        right = QWidget()
        r = QVBoxLayout(right)
        r.setContentsMargins(6, 6, 6, 6)
        head = QHBoxLayout()
        title = QLabel("Candidates for the next answer")
        title.setObjectName("paneTitle")
        head.addWidget(title)
        head.addStretch()
        head.addWidget(QLabel("Compare:"))
        head.addWidget(self.compare)
        r.addLayout(head)
        r.addWidget(self.outputs, 1)

        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        for w in (self.prompt, middle, right):
            self.splitter.addWidget(w)
        self.splitter.setSizes([430, 520, 650])
        central = QWidget()
        c = QVBoxLayout(central)
        c.setContentsMargins(4, 4, 4, 0)
        c.addWidget(self.banner)
        c.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.proposals = ProposalStore(self.ws.db, self.ws.notebook)
        self.notebook = NotebookPanel(self.ws.notebook, self.proposals)
        self.model_panel = ModelPanel(gpu_supported)
        self.sampling = SamplingPanel()
        docks = []
        for name, widget in (("Notebook", self.notebook), ("Model", self.model_panel),
                             ("Sampling", self.sampling)):
            dock = QDockWidget(name, self)
            dock.setObjectName(f"{name.lower()}Dock")
            dock.setWidget(widget)
            dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
            self.addDockWidget(Qt.BottomDockWidgetArea, dock)
            docks.append(dock)
        self.tabifyDockWidget(docks[0], docks[1])
        self.tabifyDockWidget(docks[1], docks[2])
        docks[0].raise_()
        self.notebook_dock = docks[0]
        self.resizeDocks([docks[0]], [290], Qt.Vertical)

        self.status_model = QLabel("No model loaded")
        self.status_speed = QLabel()
        self.prompt_progress = QProgressBar()
        self.prompt_progress.setObjectName("promptProgress")
        self.prompt_progress.setRange(0, 0)
        self.prompt_progress.setMaximumWidth(220)
        self.prompt_progress.setFormat("processing prompt…")
        self.prompt_progress.hide()
        self.statusBar().addWidget(self.status_model)
        self.statusBar().addPermanentWidget(self.prompt_progress)
        self.statusBar().addPermanentWidget(self.status_speed)

        menu = self.menuBar().addMenu("&File")
        for text, key, slot in (("New conversation", "Ctrl+N", self.new_conversation),
                                ("Save prompt version", "Ctrl+S", self.save_version),
                                ("Import prompt…", "Ctrl+O", self.import_dialog),
                                ("Export prompt…", "Ctrl+E", self.show_export),
                                ("Quit", "Ctrl+Q", self.close)):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(key))
            action.triggered.connect(slot)
            menu.addAction(action)
            self.addAction(action)

    def _wire(self) -> None:
        self.autosave_timer = QTimer(self, singleShot=True, interval=AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.save_draft)
        self.compose_timer = QTimer(self, singleShot=True, interval=RECOMPOSE_MS)
        self.compose_timer.timeout.connect(self.recompose)
        self.slow_prompt_timer = QTimer(self, singleShot=True, interval=SLOW_PROMPT_MS)
        self.slow_prompt_timer.timeout.connect(self.prompt_progress.show)

        self.prompt.changed.connect(self._document_edited)
        self.sampling.changed.connect(self._document_edited)
        self.input.textChanged.connect(self.compose_timer.start)
        self.notebook.changed.connect(self._notebook_changed)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.stop)
        self.regen_button.clicked.connect(self.regenerate)
        self.cancel_edit.clicked.connect(lambda: self._set_edit_mode(None))
        self.conversation.action.connect(self._conversation_action)
        self.outputs.accepted.connect(self.accept)
        self.outputs.rated.connect(self.rate)
        self.learning = LearningController(self)
        self.outputs.teach.connect(self.learning.teach)
        self.outputs.reflect.connect(self.learning.reflect_on)
        self.requestHash.connect(self.worker.hash_file)
        # Bound methods of this window, never lambdas or other objects' methods:
        # PySide runs those on the emitting (engine) thread.
        self.worker.hashed.connect(self._hashed)

        self.model_panel.loadRequested.connect(self.load_model)
        self.model_panel.mode.currentTextChanged.connect(self._mode_changed)

        self.requestLoad.connect(self.worker.load)
        self.requestGenerate.connect(self.worker.generate)
        self.worker.loaded.connect(self._loaded)
        self.worker.loadFailed.connect(self._load_failed)
        self.worker.started.connect(self._candidate_started)
        self.worker.token.connect(self._token)
        self.worker.finished.connect(self._candidate_finished)
        self.worker.failed.connect(self._candidate_failed)
        self.worker.idle.connect(self._idle)

        for key, slot in (("Ctrl+Return", self.send), ("Ctrl+Enter", self.send),
                          ("Escape", self.stop), ("Ctrl+F", self.focus_search)):
            QShortcut(QKeySequence(key), self, activated=slot)

    # -- state kept across restarts -----------------------------------------------------

    def _last_conversation(self) -> int | None:
        cid = self.settings.value("conversation", None)
        known = {c["id"] for c in self.ws.conversations.conversations()}
        return int(cid) if cid is not None and int(cid) in known else None

    def _restore_layout(self) -> None:
        for key, restore in (("geometry", self.restoreGeometry), ("state", self.restoreState),
                             ("splitter", self.splitter.restoreState)):
            value = self.settings.value(key)
            if isinstance(value, QByteArray):
                restore(value)

    def save_layout(self) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("state", self.saveState())
        self.settings.setValue("splitter", self.splitter.saveState())
        self.settings.setValue("conversation", self.session.conversation_id)
        self.settings.sync()

    def closeEvent(self, event) -> None:
        self.stop()
        self.save_draft()
        self.save_layout()
        super().closeEvent(event)

    # -- the prompt document ----------------------------------------------------------

    def _show_document(self) -> None:
        """Put the session's document in the panels without it counting as an edit
        (an edit would copy the old sampling settings over the document's own)."""
        self._loading_document = True
        try:
            self.prompt.set_document(self.session.document)
            self.sampling.set_params(self.session.document.params)
        finally:
            self._loading_document = False
        self.refresh_compare()

    def _document_edited(self) -> None:
        if self._loading_document:
            return
        self.session.document.params = self.sampling.params().to_dict()
        self.autosave_timer.start()
        self.compose_timer.start()

    def save_draft(self) -> None:
        self.autosave_timer.stop()
        self.ws.prompts.save_draft(self.document_id, self.session.document)

    def save_version(self) -> None:
        self.session.document.params = self.sampling.params().to_dict()
        v = self.ws.prompts.save_version(self.document_id, self.session.document)
        self.statusBar().showMessage(f"Saved prompt version {v.number}", 4000)
        self.refresh_compare()

    def refresh_compare(self) -> None:
        """The compare choices: N samples, the draft against each saved version, or the
        loaded model against each other model found."""
        current = self.compare.currentData()
        self.compare.clear()
        self.compare.addItem("samples of this prompt", None)
        for v in reversed(self.ws.prompts.versions(self.document_id)):
            self.compare.addItem(f"draft vs version {v.number}", v.number)
        loaded = self.engine.info.path if self.model_ready else None
        for i in range(self.model_panel.models.count()):
            path = self.model_panel.models.itemData(i)
            if path and path != loaded:
                self.compare.addItem(f"this model vs {Path(path).name}", path)
        i = self.compare.findData(current)
        self.compare.setCurrentIndex(max(i, 0))

    def _composing_engine(self) -> Engine | None:
        # While a model (re)loads on the engine thread, count with the estimate.
        return self.engine if self.model_ready else None

    def compose(self, conversation: list[dict]) -> Composition:
        return self.ws.compose(self.session.document, conversation, self._composing_engine())

    def recompose(self) -> None:
        """Refresh the preview, the budget bar and which lessons are in play."""
        self.compose_timer.stop()
        history = self.session.history()
        typed = self.input.toPlainText().strip()
        convo = history + ([{"role": "user", "content": typed}] if typed else [])
        c = self.compose(convo)
        preview = c.system_prompt
        if c.unknown_variables:
            preview += ("\n\n[unknown variables, left as written: "
                        + ", ".join("{{%s}}" % v for v in c.unknown_variables) + "]")
        self.prompt.set_preview(preview)
        self.prompt.budget.set_breakdown(c.breakdown, c.n_ctx)
        self.notebook.set_prompt_lessons(c.lessons_in_prompt, c.lessons_retrieved)
        self._show_model_view(c)
        if self.export_dialog is not None and self.export_dialog.isVisible():
            self.export_dialog.refresh()  # the preview follows the prompt as it is edited

    def _show_model_view(self, c: Composition) -> None:
        if not self.model_ready:
            self.prompt.set_model_view("", "Load a model to see the exact prompt it gets.")
            return
        try:
            mode = self.session.mode
            text, n = what_the_model_sees(self.engine, mode.name, c.messages)
        except WorkbenchError as e:
            self.prompt.set_model_view("", str(e))
            return
        self.prompt.set_model_view(text, f"{n:,} tokens · {mode.name} mode: {mode.reason}")

    def _mode_changed(self, choice: str) -> None:
        self.session.mode_choice = choice
        self._show_mode()
        self.recompose()

    def _show_mode(self) -> None:
        if not self.model_ready:
            return
        try:
            mode = self.session.mode
        except WorkbenchError as e:
            self.model_panel.mode_reason.setText(f"<span style='color:#B3261E'>{e}</span>")
            return
        self.model_panel.mode_reason.setText(f"Mode: <b>{mode.name}</b>, {mode.reason}.")
        info = self.engine.load_result
        self.status_model.setText(f"{info.info.name} · {mode.name} mode · ctx {info.n_ctx:,}")

    # -- the conversation ---------------------------------------------------------------

    def show_conversation(self) -> None:
        convs = self.ws.conversations
        shown = []
        for m in convs.path(self.session.conversation_id):
            sib = convs.siblings(m.id)
            i = sib.index(m.id)
            shown.append(ShownMessage(m, i + 1, len(sib), sib[i - 1] if i > 0 else None,
                                      sib[i + 1] if i + 1 < len(sib) else None))
        self.conversation.show_messages(shown)

    def new_conversation(self) -> None:
        self.session.conversation_id = self.ws.conversations.create(document_id=self.document_id)
        self.settings.setValue("conversation", self.session.conversation_id)
        self.outputs.clear()
        self.pending = None
        self.show_conversation()
        self.recompose()

    def _conversation_action(self, action: str, arg: str) -> None:
        message_id = int(arg)
        if action == "switch":
            self.ws.conversations.switch_to(message_id)
        elif action == "delete":
            self.ws.conversations.delete(message_id)
            self.statusBar().showMessage("Message deleted, with what followed it.", 4000)
        elif action in ("edit", "branch"):
            self._set_edit_mode((action, message_id))
            return
        self.show_conversation()
        self.recompose()

    def _set_edit_mode(self, mode: tuple[str, int] | None) -> None:
        self.edit_mode = mode
        self.cancel_edit.setVisible(mode is not None)
        if mode is None:
            self.send_button.setText("Send")
            self.mode_label.clear()
            self.input.clear()
            return
        action, message_id = mode
        text = next(m.content for m in self.ws.conversations.path(self.session.conversation_id)
                    if m.id == message_id)
        self.input.setPlainText(text)
        self.input.setFocus()
        self.send_button.setText("Save edit" if action == "edit" else "Save as new branch")
        self.mode_label.setText(f"{'Editing' if action == 'edit' else 'Branching from'} message #{message_id}")

    def _finish_edit(self, text: str) -> None:
        action, message_id = self.edit_mode
        convs = self.ws.conversations
        if action == "edit":
            convs.edit(message_id, text)
            self._set_edit_mode(None)
        else:
            new = convs.fork(message_id, text)
            self._set_edit_mode(None)
            if new.role == "user":  # a new question: ask for answers to it
                self.show_conversation()
                history = self.session.history()
                self._generate(Pending("reply", text, self.compose(history), conversation=history))
        self.show_conversation()
        self.recompose()

    # -- generating ---------------------------------------------------------------------

    def send(self) -> None:
        text = self.input.toPlainText().strip()
        if not text or self.generating:
            return
        if self.edit_mode:
            self._finish_edit(text)
            return
        convo = self.session.history() + [{"role": "user", "content": text}]
        self._generate(Pending("new", text, self.compose(convo), conversation=convo))

    def regenerate(self) -> None:
        """New candidates for the last answer (accepting one makes a new branch)."""
        if self.generating:
            return
        path = self.ws.conversations.path(self.session.conversation_id)
        if path and path[-1].role == "assistant" and len(path) >= 2:
            history = [m.as_chat() for m in path[:-1]]
            self._generate(Pending("regen", history[-1]["content"], self.compose(history),
                                   target_id=path[-1].id, conversation=history))
        elif path and path[-1].role == "user":
            history = [m.as_chat() for m in path]
            self._generate(Pending("reply", path[-1].content, self.compose(history),
                                   conversation=history))
        elif self.pending:
            self._generate(self.pending)

    def _generate(self, pending: Pending) -> None:
        if not self.model_ready:
            self.show_error("No model is loaded yet. Choose one in the Model panel and press Load.")
            return
        try:
            mode = self.session.mode.name
        except WorkbenchError as e:
            self.show_error(str(e))
            return
        if pending.composition.free_tokens < 16:
            self.show_error(
                f"The context is full: the prompt needs {pending.composition.total_tokens:,} of "
                f"{pending.composition.n_ctx:,} tokens. Shorten the prompt or the conversation "
                "(delete old messages, retire lessons), or load the model with a larger context.")
            return
        self.hide_error()
        self.pending = pending
        self.candidates = self._candidates(pending)
        self.outputs.start([c.label for c in self.candidates])
        self.generating = True
        self.stop_button.setEnabled(True)
        self.send_button.setEnabled(False)
        self.requestGenerate.emit(GenerationRequest(
            [c.composition.messages for c in self.candidates], self.sampling.params(), mode,
            [c.model for c in self.candidates]))

    def _candidates(self, pending: Pending) -> list[Candidate]:
        number = self.compare.currentData()
        if number is None:
            n = self.sampling.samples.value()
            return [Candidate(f"Candidate {i + 1}", pending.composition) for i in range(n)]
        if isinstance(number, str):  # another model answers the same composed prompt
            mode = choose_mode(read_model_info(number)).name
            return [Candidate(self.engine.info.name, pending.composition),
                    Candidate(f"{Path(number).name} ({mode})", pending.composition,
                              model=(number, mode))]
        version = self.ws.prompts.version(self.document_id, number)
        other = self.ws.compose(version.document, pending.conversation or [],
                                self._composing_engine())
        return [Candidate("Current draft", pending.composition),
                Candidate(f"Version {number}", other, version)]

    def stop(self) -> None:
        if self.generating:
            self.worker.stop()  # direct call: a queued signal would wait behind the generation

    def _candidate_started(self, i: int) -> None:
        self.slow_prompt_timer.start()

    def _token(self, i: int, piece: str) -> None:
        self.slow_prompt_timer.stop()
        self.prompt_progress.hide()
        self.outputs.cards[i].append(piece)

    def _candidate_finished(self, i: int, stats: RunStats) -> None:
        self.slow_prompt_timer.stop()
        self.prompt_progress.hide()
        card = self.outputs.cards[i]
        card.finish(stats)
        self.status_speed.setText(stats_line(stats))
        if card.text:
            c = self.candidates[i]
            other = self.worker.others.get(c.model[0]) if c.model else None
            card.run_id = self.session.log_run(c.composition, self.sampling.params(), card.text,
                                               stats, version=c.version, engine=other,
                                               mode=c.model[1] if c.model else None,
                                               hash_now=False)
            if c.model and not self.ws.runs.cached_sha256(c.model[0]):
                self.requestHash.emit(c.model[0])

    def _candidate_failed(self, i: int, message: str) -> None:
        self.outputs.cards[i].fail(message)
        self.show_error(message)

    def _idle(self) -> None:
        self.generating = False
        self.slow_prompt_timer.stop()
        self.prompt_progress.hide()
        self.outputs.stop_rendering()
        self.stop_button.setEnabled(False)
        self.send_button.setEnabled(True)
        self._mark_majority()

    def _mark_majority(self) -> None:
        """Self-consistency: with several samples, mark the most common final answer."""
        cards = self.outputs.cards
        if len(cards) < 3 or self.compare.currentData() is not None:  # a vote needs three
            return
        result = vote([c.text for c in cards], self.sampling.answer_regex.text().strip() or None)
        for i, card in enumerate(cards):
            card.mark_answer(result.answers[i], result.is_majority(i),
                             f"({result.count}/{len(cards)})")

    def accept(self, i: int) -> None:
        card, p = self.outputs.cards[i], self.pending
        convs = self.ws.conversations
        answer = card.text.strip()
        if p.kind == "new":
            self.session.accept(p.user_text, answer)
            self.input.clear()
        elif p.kind == "reply":
            convs.append(self.session.conversation_id, "assistant", answer)
        else:
            convs.fork(p.target_id, answer)
        self.pending = None
        self.outputs.clear()
        self.show_conversation()
        self.recompose()

    def rate(self, i: int, rating: int, comment: str) -> None:
        card = self.outputs.cards[i]
        if card.run_id is not None:
            rate_run(self.ws, card.run_id, rating, comment)  # lessons in its prompt get tallies
            self.notebook.refresh()

    def _notebook_changed(self) -> None:
        """Keep the pinned lessons within the document's budget, and say what moved."""
        count_tokens, _, _ = model_terms(self._composing_engine())
        moved = self.ws.notebook.enforce_budget(self.session.document.lesson_budget, count_tokens)
        if moved:
            self.notebook.refresh()
            self.notebook._say(
                f"The pinned lessons outgrew their {self.session.document.lesson_budget}-token "
                "budget, so the least helpful became retrieved-only (still used when relevant): "
                + "; ".join(f"#{l.id} {l.text}" for l in moved))
        self.recompose()

    def _hashed(self, path: str, sha256: str) -> None:
        self.ws.runs.remember_sha256(path, sha256)

    # -- the model ---------------------------------------------------------------------

    def load_model(self, path: str, options) -> None:
        self.model_ready = False
        self.status_model.setText("Loading model…")
        self.model_panel.set_loading(True)
        self.requestLoad.emit(path, options)

    def load_default(self) -> None:
        last = self.settings.value("model")
        path = last if last else str(models_dir() / DEFAULT_CHAT_MODEL)
        self.model_panel.select(path)
        self.load_model(path, self.model_panel.options())

    def _loaded(self, result) -> None:
        self.model_ready = True
        self.model_panel.set_loaded(result)
        self.settings.setValue("model", result.info.path)
        if not self.ws.runs.cached_sha256(result.info.path):
            self.requestHash.emit(result.info.path)  # seconds for a big file: not on this thread
        self._show_mode()
        self.refresh_compare()
        self.hide_error()
        if result.notice:
            self.statusBar().showMessage(result.notice, 8000)
        self.recompose()

    def _load_failed(self, message: str) -> None:
        self.model_panel.set_failed(message)
        self.status_model.setText("No model loaded")
        self.show_error(f"{message} Choose another model in the Model panel.")

    # -- sharing ------------------------------------------------------------------------

    def export_input(self):
        return build_export_input(
            self.ws, self.session.document, self.engine if self.model_ready else None,
            self.session.conversation_id, mode=self.session.mode_choice)

    def show_export(self) -> ExportDialog:
        if self.export_dialog is None:
            self.export_dialog = ExportDialog(self.export_input, self)
        self.export_dialog.refresh()
        self.export_dialog.show()
        self.export_dialog.raise_()
        return self.export_dialog

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a prompt", "",
                                              "Prompt files (*.json *.yaml *.yml *.md *Modelfile);;"
                                              "All files (*)")
        if path:
            self.import_file(path)

    def import_file(self, path: str) -> None:
        """A prompt file from another tool becomes a new document, opened here."""
        try:
            text = Path(path).read_text(encoding="utf-8")
            doc = import_text(text, None, Path(path).name)
        except (OSError, UnicodeDecodeError) as e:
            self.show_error(f"Cannot read {path}: {e}")
            return
        except WorkbenchError as e:
            self.show_error(f"{Path(path).name} was not imported: {e}")
            return
        doc_id = self.ws.prompts.create(doc)
        self.open_document(doc_id)
        self.hide_error()
        self.statusBar().showMessage(f"Imported {Path(path).name} as “{doc.name}”.", 6000)

    def open_document(self, doc_id: int) -> None:
        self.save_draft()
        self.ws.prompts.set_active(doc_id)
        self.document_id = self.session.document_id = doc_id
        self.session.document = self.ws.prompts.load_draft(doc_id)
        self._show_document()
        self.recompose()

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.import_file(url.toLocalFile())
                event.acceptProposedAction()
                return

    # -- messages ---------------------------------------------------------------------------

    def show_error(self, message: str) -> None:
        self.banner.setText(message)
        self.banner.show()

    def hide_error(self) -> None:
        self.banner.hide()

    def focus_search(self) -> None:
        self.notebook_dock.raise_()
        self.notebook.search.setFocus()
        self.notebook.search.selectAll()
