"""The main window: the system prompt, the conversation and the candidates side by side; the library
at the left; notebook, model, sampling, evaluation and run log in closable docks below. Layout and
wiring only: what the buttons do is decided by chat.session.ChatSession."""

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QMainWindow, QSplitter, QVBoxLayout, QWidget

from workbench.chat.library import Library
from workbench.chat.session import ChatSession
from workbench.errors import WorkbenchError
from workbench.notebook.proposals import ProposalStore
from workbench.runtime.engine import Engine
from workbench.ui import palette
from workbench.ui.cache_status import CacheStatus
from workbench.ui.generation import GenerationController
from workbench.ui.layout import copy_text
from workbench.ui.learning import LearningController
from workbench.ui.library import add_library
from workbench.ui.model_panel import ModelPanel
from workbench.ui.notebook_panel import NotebookPanel
from workbench.ui.notice import ErrorBanner, NoticeArea
from workbench.ui.panes import (
    DOCK_FEATURES,
    CandidatesPane,
    ConversationPane,
    LazyDock,
    add_docks,
    add_menu,
    dock_action,
)
from workbench.ui.prompt_panel import PromptPanel
from workbench.ui.run_log import add_run_log
from workbench.ui.sampling_panel import SamplingPanel
from workbench.ui.sharing import SharingController
from workbench.ui.unsent import UnsentMessage
from workbench.ui.worker import EngineWorker

AUTOSAVE_MS = 400  # killing the app loses at most this much typing (target: under 1 s)
RECOMPOSE_MS = 150
RETRY_SAVE_MS = 3000
LAYOUT_VERSION = 2  # window state saved by an older layout is not restored
THEMES = ("system", "light", "dark")


class MainWindow(QMainWindow):
    """Args:
        workspace: the stores; engine: the Engine the worker owns (read-only use here:
        token counts and model info); worker: the EngineWorker in its thread;
        settings: QSettings for window state.

    """

    def __init__(self, workspace, engine: Engine, worker: EngineWorker, settings: QSettings):
        super().__init__()
        self.ws, self.engine, self.worker, self.settings = workspace, engine, worker, settings
        self.setWindowTitle("Prompt Workbench")
        self._loading_document = False
        self._laid_out = False
        self._painted = False
        self.load_model_at_start = False  # app.build sets it: load the last model once listed
        self.setAcceptDrops(True)  # drop a prompt file to import it
        cid = str(settings.value("conversation", ""))
        self.session = ChatSession(workspace, engine, conversation_id=int(cid) if cid.isdigit() else None)
        self.session.model_ready = False  # the engine thread loads it
        self.proposals = ProposalStore(workspace.db, workspace.notebook)
        self.library = Library(workspace)
        self.sharing = SharingController(self)
        self._build()
        self._wire()
        self._show_document()
        self.show_conversation()
        self.recompose()
        self._restore_layout()
        self.apply_theme(str(settings.value("theme", "system")))
        if workspace.db.notice:  # e.g. opened read-only: say so before any edit is lost
            self.show_error(workspace.db.notice)
        self.input.setFocus()  # typing goes to the message box from the start

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            # What the window needs not to appear waits until it has: the models folder is read
            # (and a model loads), then Markdown's libraries load, each in a pass of its own.
            QTimer.singleShot(0, self, self._after_first_paint)  # not once the window is gone

    def _after_first_paint(self) -> None:
        self.scan_models()
        QTimer.singleShot(0, self, self._load_markdown)

    def _load_markdown(self) -> None:
        """Python-Markdown and pygments (~0.2 s): the messages placed as typed are converted."""
        import workbench.chat.markdown  # noqa: F401 - loading it is the point
        self.conversation.resume()

    def scan_models(self) -> None:
        """List the models folder (and load the model used last, when asked to at start)."""
        self.model_panel.scan(self.model_panel.models.currentData())
        self.refresh_compare()
        if self.load_model_at_start:
            self.load_model_at_start = False
            self.generation.load_default()

    # -- building ------------------------------------------------------------------

    def _build(self) -> None:
        self.banner = ErrorBanner()
        self.prompt = PromptPanel()
        self.chat = ConversationPane()
        self.sampling = SamplingPanel()
        self.right = CandidatesPane(self.sampling.samples)
        # The widgets the wiring and the tests reach for.
        self.conversation, self.input = self.chat.view, self.chat.input
        self.send_button, self.stop_button = self.chat.send_button, self.chat.stop_button
        self.regen_button = self.chat.regen_button
        self.outputs, self.compare = self.right.outputs, self.right.compare
        self.vote_switch = self.right.vote

        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.setChildrenCollapsible(False)
        for w, stretch in ((self.prompt, 4), (self.chat, 3), (self.right, 4)):
            self.splitter.addWidget(w)
            self.splitter.setStretchFactor(self.splitter.count() - 1, stretch)
        # The prompt and candidates panes are as narrow as their controls allow (their own hint,
        # styled): a fixed minimum below it let their widgets be drawn over the next pane's.
        self.chat.setMinimumWidth(260)  # room for the conversation's text, more than its controls
        central = QWidget()
        c = QVBoxLayout(central)
        c.setContentsMargins(4, 2, 4, 0)
        c.setSpacing(2)
        c.addWidget(self.banner)
        c.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.notices = NoticeArea(central)

        self.cache_status = CacheStatus(self)
        self.prompt.under_editor.addWidget(self.cache_status)

        self.notebook = NotebookPanel(self.ws.notebook, self.proposals)
        self.model_panel = ModelPanel()
        docks = add_docks(self, [("Notebook", self.notebook, False), ("Model", self.model_panel, True),
                                 ("Sampling", self.sampling, True)])
        self.notebook_dock, self.model_dock, self.sampling_dock = docks
        # Evaluating is a task of its own: its view is made when first opened (View > Evaluate)
        # and never takes the editor's room unasked.
        self.eval_dock = LazyDock("Evaluate", self, self._make_eval_view)
        self.eval_dock.setObjectName("evalViewDock")
        self.run_log_dock = add_run_log(self)
        for dock in (self.eval_dock, self.run_log_dock):
            dock.setFeatures(DOCK_FEATURES)
            self.addDockWidget(Qt.BottomDockWidgetArea, dock)
            self.tabifyDockWidget(self.sampling_dock, dock)
        self.eval_dock.hide()
        self.library_dock = add_library(self)
        self.library_dock.setFeatures(DOCK_FEATURES)
        self.addDockWidget(Qt.LeftDockWidgetArea, self.library_dock)
        self.notebook_dock.raise_()
        # The library runs the full height at the left; the docks below span the rest.
        self.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)

        self.status_model = QLabel("No model loaded")
        self.status_model.setObjectName("statusModel")
        self.statusBar().addWidget(self.status_model)
        add_menu(self, "&File", (("New conversation", "Ctrl+N", self.new_conversation),
                                 ("Save prompt version…", "Ctrl+S", self.save_version_with_note),
                                 None,
                                 ("Import prompt…", "Ctrl+O", self.sharing.import_dialog),
                                 ("Export prompt…", "Ctrl+E", self.sharing.show_export),
                                 None,
                                 ("Quit", "Ctrl+Q", self.close)))
        add_menu(self, "&Edit", (("Rename prompt…", "F2", self.prompt.start_rename),
                                 ("Bring back the previous candidates", "Ctrl+Shift+Z",
                                  self.restore_candidates)))
        self._build_view_menu()
        # No minimum of our own: one below what the panes and docks need (it overrides the
        # layout's) let a small window draw widgets over each other. The layout's is under
        # 1280x720 with the default docks.

    def _make_eval_view(self):
        from workbench.ui.eval_view import EvalView  # with the evaluations package: when opened
        view = EvalView(self)
        self.eval_dock.visibilityChanged.connect(lambda visible: visible and not view.busy and view.refresh())
        return view

    def _build_view_menu(self) -> None:
        menu = self.menuBar().addMenu("&View")
        menu.setObjectName("viewMenu")
        self.view_menu = menu
        self.view_actions = {}
        for name, dock, key in (("library", self.library_dock, "Ctrl+1"),
                                ("notebook", self.notebook_dock, "Ctrl+2"),
                                ("model", self.model_dock, "Ctrl+3"),
                                ("sampling", self.sampling_dock, "Ctrl+4"),
                                ("evaluate", self.eval_dock, "Ctrl+5"),
                                ("runLog", self.run_log_dock, "Ctrl+6")):
            self.view_actions[name] = dock_action(self, menu, dock, key)
        menu.addSeparator()
        for i, key in enumerate(("Ctrl+Shift+P", "Ctrl+Shift+M", "Ctrl+Shift+V", "Ctrl+Shift+X")):
            action = QAction(self.prompt.PAGES[i], self)
            action.setShortcut(QKeySequence(key))
            action.triggered.connect(lambda _=False, i=i: self.toggle_prompt_page(i))
            menu.addAction(action)
            self.addAction(action)
        menu.addSeparator()
        themes = menu.addMenu("Colours")
        themes.setObjectName("themeMenu")
        group = QActionGroup(self)
        self.theme_actions = {}
        for theme, text in zip(THEMES, ("Follow the system", "Light", "Dark")):
            action = QAction(text, self, checkable=True)
            action.setObjectName(f"theme_{theme}")
            action.triggered.connect(lambda _=False, t=theme: self.apply_theme(t))
            group.addAction(action)
            themes.addAction(action)
            self.theme_actions[theme] = action
        self.dark_action = QAction("Dark mode", self, checkable=True)
        self.dark_action.setObjectName("darkModeAction")
        self.dark_action.setShortcut(QKeySequence("Ctrl+Shift+D"))
        self.dark_action.triggered.connect(lambda on: self.apply_theme("dark" if on else "light"))
        menu.addAction(self.dark_action)
        self.addAction(self.dark_action)
        menu.addSeparator()
        reset = menu.addAction("Reset the layout")
        reset.triggered.connect(self.reset_layout)

    def _wire(self) -> None:
        self.autosave_timer = QTimer(self, singleShot=True, interval=AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.save_draft)
        self.compose_timer = QTimer(self, singleShot=True, interval=RECOMPOSE_MS)
        self.compose_timer.timeout.connect(self.recompose)
        self.prompt.changed.connect(self._document_edited)
        self.sampling.changed.connect(self._document_edited)
        self.input.textChanged.connect(self.compose_timer.start)
        self.unsent = UnsentMessage(self, AUTOSAVE_MS, RETRY_SAVE_MS)  # the draft's cadence
        # Notices with an Undo close once another prompt or conversation is on screen; checked
        # when a switch is over, not at each of its steps.
        self.context_timer = QTimer(self, singleShot=True, interval=0)
        self.context_timer.timeout.connect(lambda: self.notices.follow(self.notice_context()))
        self.notebook.changed.connect(self._notebook_changed)
        self.chat.cancel_edit.clicked.connect(lambda: self._set_edit_mode(None, None))
        self.conversation.action.connect(self._conversation_action)
        self.generation = GenerationController(self)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.generation.stop)
        self.regen_button.clicked.connect(self.regenerate)
        self.outputs.accepted.connect(self.accept)
        self.right.back.clicked.connect(self.restore_candidates)
        self.learning = LearningController(self)
        self.outputs.teach.connect(self.learning.teach)
        self.outputs.reflect.connect(self.learning.reflect_on)
        for key, slot in (("Ctrl+Return", self.send), ("Ctrl+Enter", self.send),
                          ("Escape", self.generation.stop), ("Ctrl+F", self.focus_search)):
            QShortcut(QKeySequence(key), self, activated=slot)
        hints = QGuiApplication.styleHints()
        hints.colorSchemeChanged.connect(self._system_scheme_changed)
        palette.THEME.changed.connect(self._repaint_theme)

    # -- what the rest of the window reads ------------------------------------------

    @property
    def model_ready(self) -> bool:
        return self.session.model_ready

    @property
    def generating(self) -> bool:
        return self.generation.busy

    # -- state kept across restarts -----------------------------------------------------

    def _restore_layout(self) -> None:
        if str(self.settings.value("layout_version", "")) != str(LAYOUT_VERSION):
            return  # an older layout's docks and sizes do not fit this one
        restored = False
        for key, restore in (("geometry", self.restoreGeometry), ("state", self.restoreState),
                             ("splitter", self.splitter.restoreState)):
            value = self.settings.value(key)
            if isinstance(value, QByteArray):
                restored = restore(value) or restored
        self._laid_out = restored

    def save_layout(self) -> None:
        for key, value in (("geometry", self.saveGeometry()), ("state", self.saveState()),
                           ("splitter", self.splitter.saveState()),
                           ("conversation", self.session.conversation_id),
                           ("layout_version", LAYOUT_VERSION)):
            self.settings.setValue(key, value)
        self.settings.sync()

    def default_layout(self) -> None:
        """Sizes for the window's size: the docks below take about a quarter of the height,
        the library a narrow column, the prompt the widest pane."""
        width, height = self.width(), self.height()
        self.resizeDocks([self.notebook_dock], [max(150, int(height * 0.22))], Qt.Vertical)
        self.resizeDocks([self.library_dock], [max(170, min(260, int(width * 0.13)))], Qt.Horizontal)
        total = max(1, self.splitter.width())
        self.splitter.setSizes([int(total * 0.37), int(total * 0.24), total - int(total * 0.61)])

    def reset_layout(self) -> None:
        for dock in (self.library_dock, self.notebook_dock, self.model_dock, self.sampling_dock,
                     self.eval_dock, self.run_log_dock):
            dock.setFloating(False)
            dock.setVisible(dock is not self.eval_dock)
        self.notebook_dock.raise_()
        self.default_layout()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._laid_out:
            self._laid_out = True
            QTimer.singleShot(0, self.default_layout)  # once the window has its real size

    def closeEvent(self, event) -> None:
        self.generation.stop()
        self.cache_status.stop_warming()  # quitting does not wait for a warm-up to finish
        self.save_draft()
        self.unsent.save()
        self.save_layout()
        super().closeEvent(event)

    # -- colours ------------------------------------------------------------------------

    def apply_theme(self, theme: str) -> None:
        """system (follow the desktop), light or dark."""
        theme = theme if theme in THEMES else "system"
        self.theme = theme
        self.settings.setValue("theme", theme)
        self.theme_actions[theme].setChecked(True)
        dark = palette.system_prefers_dark() if theme == "system" else theme == "dark"
        self.dark_action.setChecked(dark)
        palette.apply(dark)

    def _system_scheme_changed(self, *args) -> None:
        if self.theme == "system":
            self.apply_theme("system")

    def _repaint_theme(self, dark: bool) -> None:
        """What was painted or rendered with the old colours is drawn again."""
        self.show_conversation()
        self.prompt.budget.update()
        self.notebook.refresh()

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
            self.show_error("Opened with changes: " + " ".join(notes), kind="warning")
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

    def save_version(self, note: str = "") -> None:
        self.session.document.params = self.sampling.params().to_dict()
        try:
            v = self.session.save_version(note) if note else self.session.save_version()
        except WorkbenchError as e:
            self.notify(str(e), "error")
            return
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

    def toggle_prompt_page(self, i: int) -> None:
        """Open (or close) a page under the editor: composed prompt, what the model sees, …"""
        if self.prompt.tabs.isVisibleTo(self.prompt) and self.prompt.tabs.currentIndex() == i:
            self.prompt.hide_pages()
        else:
            self.prompt.show_page(i)

    # -- the conversation ---------------------------------------------------------------

    def show_conversation(self) -> None:
        self.conversation.show_messages(self.session.shown_messages())
        self.unsent.follow()
        self.context_timer.start()

    def new_conversation(self) -> None:
        self.unsent.save()  # what was typed for the conversation left stays with it
        self.session.new_conversation()
        self.settings.setValue("conversation", self.session.conversation_id)
        self.outputs.clear()
        self.right.show_question("")
        self._set_edit_mode(None, None)
        self.show_conversation()
        self.recompose()
        self.input.setFocus()

    def _conversation_action(self, action: str, arg: str) -> None:
        if action == "copy-code":
            self.statusBar().showMessage("Code copied.", 3000)  # SafeBrowser copied it
            return
        message_id = int(arg)
        if action in ("edit", "branch"):
            self._set_edit_mode(action, message_id)
            return
        if action == "copy":
            copy_text(self, self.conversation.message_text(message_id), "the message")
            return
        if action == "switch":
            self.session.switch_branch(message_id)
        elif action == "delete":
            self.delete_message(message_id)
            return
        self.show_conversation()
        self.recompose()

    def delete_message(self, message_id: int) -> None:
        """Delete a message and what follows it, with Undo in the notice (the library does it,
        so its conversation list follows)."""
        self.library_dock.widget().delete_message(message_id)

    def save_version_with_note(self) -> None:
        self.library_dock.widget().versions.save_with_note()

    def _set_edit_mode(self, action: str | None, message_id: int | None) -> None:
        """Edit or branch a message in the message box (None: back to the message being typed,
        which is kept while editing)."""
        if message_id is not None and self.session.edit_mode is None:
            self.unsent.save()
        text = self.session.start_edit(action, message_id)
        with self.unsent.filling():
            if message_id is None:
                self.chat.show_editing(None, text=self.unsent.saved)
            else:
                self.chat.show_editing(action, message_id, text)

    def leave_edit_mode(self) -> None:
        self._set_edit_mode(None, None)

    # -- the next turn ------------------------------------------------------------------

    def engine_taken(self) -> bool:
        """An evaluation or learning run has the model: say so rather than wait behind it."""
        taken = self.eval_dock.built and self.eval_dock.widget().busy  # unopened: not running
        if taken:
            self.notify("The model is busy with a run in the Evaluate view: wait for it to finish, "
                        "or press Stop there.", "warning")
        return taken

    def send(self) -> None:
        if self.generating or self.engine_taken():
            return
        self.unsent.save()  # kept until its answer is accepted into the conversation
        editing = self.session.edit_mode is not None
        pending = self.session.send(self.input.toPlainText())
        if editing and self.session.edit_mode is None:  # the edit was saved
            self.leave_edit_mode()
            self.show_conversation()
            self.recompose()
        if pending:
            self.generation.run(pending)
        self.input.setFocus()

    def regenerate(self) -> None:
        """New candidates for the last answer (accepting one makes a new branch)."""
        pending = None if self.generating or self.engine_taken() else self.session.regenerate()
        if pending:
            self.generation.run(pending)
        self.input.setFocus()

    def accept(self, i: int) -> None:
        # Focus first: the card (and its focused button) is about to go, and Qt would hand
        # the focus to the next widget in line.
        self.input.setFocus()
        if self.session.pending is None:
            self.notify("These candidates were already answered: send or regenerate for new ones.",
                        "warning")
            return
        was_new = self.session.pending.kind == "new"
        try:
            self.session.accept(self.outputs.cards[i].text)
        except WorkbenchError as e:
            self.notify(str(e), "error")
            return
        if was_new:  # the question is in the conversation now: not back after a restart
            self.input.clear()
            self.unsent.save()
        self.outputs.clear()
        self.right.show_question("")
        self.right.show_tally("")
        self.show_conversation()
        self.recompose()
        self.input.setFocus()

    def restore_candidates(self) -> None:
        """One step of undo for the candidates a run replaced."""
        if self.generating:
            return
        if self.generation.restore_previous():
            self.statusBar().showMessage("The previous candidates are back.", 3000)
        self.input.setFocus()

    def _notebook_changed(self) -> None:
        """Keep the pinned lessons within the document's budget, and say what moved."""
        message = self.session.enforce_budget()
        if message:
            self.notebook.refresh()
            self.notebook._say(message)
            self.notify(message, "warning")
        self.recompose()

    # -- sharing ------------------------------------------------------------------------

    def document_opened(self) -> None:
        """Another document was opened (an import, the library): show it."""
        self._show_document()
        self.recompose()
        self.context_timer.start()

    def dragEnterEvent(self, event) -> None:
        if self.sharing.drop_target(event):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = self.sharing.drop_target(event)
        if path:
            self.sharing.import_file(path)
            event.acceptProposedAction()

    # -- messages ---------------------------------------------------------------------------

    def notify(self, message: str, kind: str = "info", action=None):
        """A notice over the window where the user looks: kind info, success (green), warning
        (amber) or error (red); closable; info and success hide by themselves. action: an
        optional (button text, callable), e.g. ("Undo", restore). Returns the Notice."""
        context = self.notice_context() if action is not None else None  # an Undo acts here
        return self.notices.show_notice(message, kind, action, context)

    def notice_context(self) -> tuple[int, int | None]:
        """What is on screen: the open prompt and conversation."""
        return self.session.document_id, self.session.conversation_id

    def show_error(self, message: str, kind: str = "error") -> None:
        """The banner above the panes (red; amber for a warning), until the next success."""
        self.banner.say(message, kind)

    def hide_error(self) -> None:
        self.banner.hide()

    def focus_search(self) -> None:
        self.notebook_dock.show()
        self.notebook_dock.raise_()
        self.notebook.search.setFocus()
        self.notebook.search.selectAll()
