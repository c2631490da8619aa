"""The main window: prompt, conversation and candidates side by side; notebook, model and sampling
below. Layout and wiring only: what the buttons do is decided by chat.session.ChatSession."""

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QMainWindow, QSplitter, QVBoxLayout, QWidget

from workbench.chat.session import ChatSession
from workbench.errors import WorkbenchError
from workbench.notebook.proposals import ProposalStore
from workbench.runtime.engine import Engine
from workbench.ui.generation import GenerationController
from workbench.ui.learning import LearningController
from workbench.ui.model_panel import ModelPanel
from workbench.ui.notebook_panel import NotebookPanel
from workbench.ui.panes import CandidatesPane, ConversationPane, ErrorBanner, add_docks, add_menu
from workbench.ui.prompt_panel import PromptPanel
from workbench.ui.sampling_panel import SamplingPanel
from workbench.ui.sharing import SharingController
from workbench.ui.worker import EngineWorker

AUTOSAVE_MS = 400  # killing the app loses at most this much typing (target: under 1 s)
RECOMPOSE_MS = 150
RETRY_SAVE_MS = 3000


class MainWindow(QMainWindow):
    """Args:
        workspace: the stores; engine: the Engine the worker owns (read-only use here:
        token counts and model info); worker: the EngineWorker in its thread;
        settings: QSettings for window state.

    """

    def __init__(self, workspace, engine: Engine, worker: EngineWorker, settings: QSettings,
                 gpu_supported: bool):
        super().__init__()
        self.ws, self.engine, self.worker, self.settings = workspace, engine, worker, settings
        self.setWindowTitle("Prompt Workbench")
        self._loading_document = False
        self.setAcceptDrops(True)  # drop a prompt file to import it
        cid = str(settings.value("conversation", ""))
        self.session = ChatSession(workspace, engine, conversation_id=int(cid) if cid.isdigit() else None)
        self.session.model_ready = False  # the engine thread loads it
        self.proposals = ProposalStore(workspace.db, workspace.notebook)
        self.sharing = SharingController(self)
        self._build(gpu_supported)
        self._wire()
        self._show_document()
        self.show_conversation()
        self.recompose()
        self._restore_layout()
        if workspace.db.notice:  # e.g. opened read-only: say so before any edit is lost
            self.show_error(workspace.db.notice)

    # -- building ------------------------------------------------------------------

    def _build(self, gpu_supported: bool) -> None:
        self.banner = ErrorBanner()
        self.prompt = PromptPanel()
        self.chat = ConversationPane()
        self.right = CandidatesPane()
        # The widgets the wiring and the tests reach for.
        self.conversation, self.input = self.chat.view, self.chat.input
        self.send_button, self.stop_button = self.chat.send_button, self.chat.stop_button
        self.regen_button = self.chat.regen_button
        self.outputs, self.compare = self.right.outputs, self.right.compare

        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        for w in (self.prompt, self.chat, self.right):
            self.splitter.addWidget(w)
        self.splitter.setSizes([430, 520, 650])
        central = QWidget()
        c = QVBoxLayout(central)
        c.setContentsMargins(4, 4, 4, 0)
        c.addWidget(self.banner)
        c.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.notebook = NotebookPanel(self.ws.notebook, self.proposals)
        self.model_panel = ModelPanel(gpu_supported)
        self.sampling = SamplingPanel()
        docks = add_docks(self, [("Notebook", self.notebook), ("Model", self.model_panel),
                                 ("Sampling", self.sampling)])
        self.notebook_dock = docks[0]
        self.resizeDocks([docks[0]], [290], Qt.Vertical)

        self.status_model = QLabel("No model loaded")
        self.statusBar().addWidget(self.status_model)
        add_menu(self, "&File", (("New conversation", "Ctrl+N", self.new_conversation),
                                 ("Save prompt version", "Ctrl+S", self.save_version),
                                 ("Import prompt…", "Ctrl+O", self.sharing.import_dialog),
                                 ("Export prompt…", "Ctrl+E", self.sharing.show_export),
                                 ("Quit", "Ctrl+Q", self.close)))

    def _wire(self) -> None:
        self.autosave_timer = QTimer(self, singleShot=True, interval=AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.save_draft)
        self.compose_timer = QTimer(self, singleShot=True, interval=RECOMPOSE_MS)
        self.compose_timer.timeout.connect(self.recompose)
        self.prompt.changed.connect(self._document_edited)
        self.sampling.changed.connect(self._document_edited)
        self.input.textChanged.connect(self.compose_timer.start)
        self.notebook.changed.connect(self._notebook_changed)
        self.chat.cancel_edit.clicked.connect(lambda: self._set_edit_mode(None, None))
        self.conversation.action.connect(self._conversation_action)
        self.generation = GenerationController(self)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.generation.stop)
        self.regen_button.clicked.connect(self.regenerate)
        self.outputs.accepted.connect(self.accept)
        self.learning = LearningController(self)
        self.outputs.teach.connect(self.learning.teach)
        self.outputs.reflect.connect(self.learning.reflect_on)
        for key, slot in (("Ctrl+Return", self.send), ("Ctrl+Enter", self.send),
                          ("Escape", self.generation.stop), ("Ctrl+F", self.focus_search)):
            QShortcut(QKeySequence(key), self, activated=slot)

    # -- what the rest of the window reads ------------------------------------------

    @property
    def model_ready(self) -> bool:
        return self.session.model_ready

    @property
    def generating(self) -> bool:
        return self.generation.busy

    # -- state kept across restarts -----------------------------------------------------

    def _restore_layout(self) -> None:
        for key, restore in (("geometry", self.restoreGeometry), ("state", self.restoreState),
                             ("splitter", self.splitter.restoreState)):
            value = self.settings.value(key)
            if isinstance(value, QByteArray):
                restore(value)

    def save_layout(self) -> None:
        for key, value in (("geometry", self.saveGeometry()), ("state", self.saveState()),
                           ("splitter", self.splitter.saveState()),
                           ("conversation", self.session.conversation_id)):
            self.settings.setValue(key, value)
        self.settings.sync()

    def closeEvent(self, event) -> None:
        self.generation.stop()
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
        notes = self.session.document.notes  # what was repaired or converted on the way in
        if notes:
            self.show_error("Opened with changes: " + " ".join(notes))
        else:
            self.hide_error()
        self.refresh_compare()

    def _document_edited(self) -> None:
        if self._loading_document:
            return
        self.session.document.params = self.sampling.params().to_dict()
        self.autosave_timer.start()
        self.compose_timer.start()

    def save_draft(self) -> None:
        """Write the draft; while the database cannot take it, keep it and try again."""
        self.autosave_timer.stop()
        try:
            self.session.save_draft()
            self.autosave_timer.setInterval(AUTOSAVE_MS)
        except WorkbenchError as e:
            self.statusBar().showMessage(f"Draft not saved yet: {e}", RETRY_SAVE_MS)
            self.autosave_timer.start(RETRY_SAVE_MS)

    def save_version(self) -> None:
        self.session.document.params = self.sampling.params().to_dict()
        v = self.session.save_version()
        self.statusBar().showMessage(f"Saved prompt version {v.number}", 4000)
        self.refresh_compare()

    def refresh_compare(self) -> None:
        models = [self.model_panel.models.itemData(i) for i in range(self.model_panel.models.count())]
        self.right.set_choices(self.session.compare_choices(models))

    def recompose(self) -> None:
        """Refresh the preview, the budget bar, which lessons are in play and the model's view."""
        self.compose_timer.stop()
        c, shown = self.session.preview(self.input.toPlainText())
        self.prompt.set_preview(shown)
        self.prompt.budget.set_breakdown(c.breakdown, c.n_ctx)
        self.notebook.set_prompt_lessons(c.lessons_in_prompt, c.lessons_retrieved)
        try:
            self.prompt.set_model_view(*self.session.what_the_model_sees(c))
        except WorkbenchError as e:
            self.prompt.set_model_view("", str(e))
        self.sharing.follow_edits()

    # -- the conversation ---------------------------------------------------------------

    def show_conversation(self) -> None:
        self.conversation.show_messages(self.session.shown_messages())

    def new_conversation(self) -> None:
        self.session.new_conversation()
        self.settings.setValue("conversation", self.session.conversation_id)
        self.outputs.clear()
        self._set_edit_mode(None, None)
        self.show_conversation()
        self.recompose()

    def _conversation_action(self, action: str, arg: str) -> None:
        message_id = int(arg)
        if action in ("edit", "branch"):
            self._set_edit_mode(action, message_id)
            return
        if action == "switch":
            self.session.switch_branch(message_id)
        elif action == "delete":
            self.session.delete_message(message_id)
            self.statusBar().showMessage("Message deleted, with what followed it.", 4000)
        self.show_conversation()
        self.recompose()

    def _set_edit_mode(self, action: str | None, message_id: int | None) -> None:
        text = self.session.start_edit(action, message_id)
        self.chat.show_editing(action if message_id is not None else None, message_id, text)

    # -- the next turn ------------------------------------------------------------------

    def send(self) -> None:
        if self.generating:
            return
        editing = self.session.edit_mode is not None
        pending = self.session.send(self.input.toPlainText())
        if editing and self.session.edit_mode is None:  # the edit was saved
            self.chat.show_editing(None)
            self.show_conversation()
            self.recompose()
        if pending:
            self.generation.run(pending)

    def regenerate(self) -> None:
        """New candidates for the last answer (accepting one makes a new branch)."""
        pending = None if self.generating else self.session.regenerate()
        if pending:
            self.generation.run(pending)

    def accept(self, i: int) -> None:
        was_new = self.session.pending.kind == "new"
        self.session.accept(self.outputs.cards[i].text)
        if was_new:
            self.input.clear()
        self.outputs.clear()
        self.show_conversation()
        self.recompose()

    def _notebook_changed(self) -> None:
        """Keep the pinned lessons within the document's budget, and say what moved."""
        message = self.session.enforce_budget()
        if message:
            self.notebook.refresh()
            self.notebook._say(message)
        self.recompose()

    # -- sharing ------------------------------------------------------------------------

    def document_opened(self) -> None:
        """Another document was opened (an import): show it."""
        self._show_document()
        self.recompose()

    def dragEnterEvent(self, event) -> None:
        if self.sharing.drop_target(event):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = self.sharing.drop_target(event)
        if path:
            self.sharing.import_file(path)
            event.acceptProposedAction()

    # -- messages ---------------------------------------------------------------------------

    def show_error(self, message: str) -> None:
        self.banner.say(message)

    def hide_error(self) -> None:
        self.banner.hide()

    def focus_search(self) -> None:
        self.notebook_dock.raise_()
        self.notebook.search.setFocus()
        self.notebook.search.selectAll()
