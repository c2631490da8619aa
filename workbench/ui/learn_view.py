"""Learning in the Evaluate view: lessons learned from the chosen test set's train questions, the
test questions before and after, and each lesson tried with its measured effect, to accept or reject.

Layout and wiring only: the learning itself is evals.learn.Learner. It runs on the engine thread
as a worker Job with a second Workspace on the same database file (SQLite connections stay on
their thread); the report comes back here, where the stored runs are read and shown.
"""

import copy
import html

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.errors import WorkbenchError
from workbench.evals.learn import Learner, split_tasks
from workbench.evals.learn_report import Candidate, LearnReport
from workbench.evals.learn_text import (
    INTRO,
    QuestionRow,
    candidate_html,
    candidate_row_html,
    decision_text,
    finished_text,
    no_lesson_html,
    question_html,
    question_rows,
    report_runs,
    set_aside,
    summary_text,
    waiting_count,
)
from workbench.evals.results import EvalStore
from workbench.evals.runner import EvalResult
from workbench.evals.tasks import Task
from workbench.prompt.document import PromptDocument
from workbench.runtime.engines import open_engine
from workbench.runtime.generation import choose_mode
from workbench.runtime.params import LoadOptions
from workbench.ui import palette
from workbench.ui.layout import button_row
from workbench.ui.notebook_panel import SOURCE_WORDS, HtmlDelegate
from workbench.ui.palette import c
from workbench.ui.pass_matrix import BeforeAfterMatrix
from workbench.ui.worker import Job
from workbench.workspace import Workspace

MAX_ROUNDS = 5


class LearnView(QWidget):
    """Args:
        eval_view: the Evaluate view (its chosen test set, its requestJob signal, its window).
    """

    def __init__(self, eval_view):
        super().__init__()
        self.setObjectName("learnView")
        self.ev, self.w = eval_view, eval_view.w
        self.report: LearnReport | None = None
        self.summary = ""  # the report's figures in words
        self.runs: list[EvalResult] = []
        self.labels: list[str] = []  # the runs' column titles
        self.rows: list[QuestionRow] = []
        self._token: object | None = None  # the running learning's Job context
        self._stopping = False
        self._decided: dict[int, int] = {}  # proposal id -> the lesson it became, accepted here
        self._build()
        self._wire()
        self.refresh()

    @property
    def busy(self) -> bool:
        return self._token is not None

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._sized:  # once it has its real width: the panes share it as the stretch says
            self._sized = True
            QTimer.singleShot(0, lambda: self.split.setSizes([7000, 8000, 6000]))

    def _build(self) -> None:
        self.heading = QLabel()
        self.heading.setObjectName("learnHeading")
        self.heading.setWordWrap(True)
        self.rounds = QSpinBox()
        self.rounds.setObjectName("learnRounds")
        self.rounds.setRange(1, MAX_ROUNDS)
        self.rounds.setPrefix("rounds: ")
        self.rounds.setToolTip("Each round tries lessons for the train questions still failing")
        self.teacher = QComboBox()
        self.teacher.setObjectName("learnTeacher")
        self.teacher.setToolTip("Who writes each lesson's rule. A small model writes poor rules; without "
                                "a teacher they are built from the set's checks and ideal answers.")
        self.learn_button = QPushButton("Learn")
        self.learn_button.setObjectName("learnStartButton")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("learnStopButton")
        self.stop_button.setEnabled(False)
        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(QLabel("Rules:"))
        top.addWidget(self.teacher)
        top.addWidget(self.rounds)
        top.addWidget(self.learn_button)
        top.addWidget(self.stop_button)
        self.progress = QProgressBar()
        self.progress.setObjectName("learnProgress")
        self.progress.setMaximumWidth(260)
        self.stage = QLabel(INTRO)
        self.stage.setObjectName("learnStage")
        self.stage.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.stage, 4)

        self.matrix = BeforeAfterMatrix()
        left = _column(QLabel("Test questions (never learned from)"), self.matrix)

        self.candidates = QTreeWidget()
        self.candidates.setObjectName("learnCandidates")
        self.candidates.setHeaderLabels(["lesson tried", "decision"])
        self.candidates.setRootIsDecorated(False)
        self.candidates.setWordWrap(True)
        self.candidates.setItemDelegateForColumn(0, HtmlDelegate(self.candidates))  # rules wrap
        header = self.candidates.header()
        header.sectionResized.connect(lambda *_: self.candidates.doItemsLayout())
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeToContents)
        middle = _column(QLabel("Lessons tried: train questions passed without → with each"),
                         self.candidates)

        self.details = QTextBrowser()
        self.details.setObjectName("learnDetails")
        self.details.setOpenLinks(False)
        self.details.setPlaceholderText("Select a lesson to see its evidence, or a question to see "
                                        "its answers before and after.")
        self.accept_button = QPushButton("Accept")
        self.accept_button.setObjectName("learnAcceptButton")
        self.accept_button.setToolTip("Put the lesson in the notebook")
        self.reject_button = QPushButton("Reject")
        self.reject_button.setObjectName("learnRejectButton")
        right = _column(self.details, button_row(self.accept_button, self.reject_button))

        self.split = QSplitter(Qt.Horizontal)
        self.split.setObjectName("learnSplitter")
        for part in (left, middle, right):
            self.split.addWidget(part)
        for i, stretch in enumerate((7, 8, 6)):
            self.split.setStretchFactor(i, stretch)
        self._sized = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addLayout(row)
        layout.addWidget(self.split, 1)
        self._enable_decisions()

    def _wire(self) -> None:
        self.learn_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.accept_button.clicked.connect(self.accept)
        self.reject_button.clicked.connect(self.reject)
        self.candidates.currentItemChanged.connect(lambda *_: self._show_candidate())
        self.matrix.currentCellChanged.connect(lambda row, *_: self._show_question(row))
        self.ev.set_combo.currentIndexChanged.connect(lambda _i: self.refresh())
        self.w.worker.jobProgress.connect(self._job_progress)
        self.w.worker.jobDone.connect(self._job_done)
        self.w.worker.jobFailed.connect(self._job_failed)
        palette.THEME.changed.connect(self._theme_changed)  # a method: gone with the view
        self._closing = _CloseWatch(self)
        self.w.installEventFilter(self._closing)

    # -- choices --------------------------------------------------------------------------------

    def refresh(self) -> None:
        """The chosen set in the heading; the teachers on offer (the models listed)."""
        name = self.ev.set_combo.currentText() or "no test set chosen"
        self.heading.setText(f"<b>Learn from:</b> {html.escape(name)}")
        current = self.teacher.currentData()
        self.teacher.clear()
        self.teacher.addItem("built from the test set", None)
        self.teacher.addItem("phrased by the loaded model", "")
        combo = self.w.model_panel.models
        loaded = self._loaded_path()
        for i in range(combo.count()):
            path = combo.itemData(i)
            if path and path != loaded:
                self.teacher.addItem(f"phrased by {combo.itemText(i)}", path)
        self.teacher.setCurrentIndex(max(0, self.teacher.findData(current)))

    def _loaded_path(self) -> str:
        info = getattr(self.w.engine, "info", None) if self.w.model_ready else None
        return getattr(info, "path", "") or ""

    def warn(self, message: str) -> None:
        self.stage.setText(message)
        self.w.notify(message, "warning")

    # -- running ---------------------------------------------------------------------------------

    def start(self) -> bool:
        """Check what can be checked here, then learn on the engine thread."""
        if self.busy or self.ev.busy or self.w.generating:
            self.warn("The model is busy; try again when it has finished.")
            return False
        if not self.w.model_ready:
            self.warn("No model is loaded: load one in the Model panel, then learn.")
            return False
        if self.ev._doc_shown != self.ev.document_id:  # the sets listed are another document's
            self.ev.refresh()
            self.refresh()
            self.warn("Another prompt document is open now: check its test set, then learn.")
            return False
        set_id = self.ev.set_id
        if not set_id:
            self.warn("Choose or import a test set first.")
            return False
        tasks = self.ev.sets.tasks(set_id)
        name = self.ev.set_name
        if not tasks:
            self.warn(f"The test set “{name}” has no cases: add questions with their checks first.")
            return False
        train, test = split_tasks(tasks, None)
        if not train or not test:
            self.warn(f"The test set “{name}” needs train questions to learn from and test questions "
                      "to measure on: set some cases' Split to train and some to test.")
            return False
        self.w.save_draft()
        s = self.w.session
        job = learn_job(self.w.ws.db.path, copy.deepcopy(s.document), s.document_id, s.mode.name, tasks,
                        name, self.rounds.value(), self.teacher.currentData())
        self._token, self._stopping = object(), False
        self.progress.setRange(0, 0)  # busy until the first report says how much there is
        self.stage.setText(f"Learning from “{name}”: {len(train)} train and {len(test)} test questions…")
        self.learn_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.ev.run_button.setEnabled(False)
        self.ev.requestJob.emit(Job(job, self._token))
        return True

    def stop(self) -> None:
        if self.busy:
            self._stopping = True
            self.stage.setText("Stopping…")
            self.w.worker.stop()  # direct call: a queued signal would wait behind the job

    def _job_progress(self, context, report) -> None:
        if context is not self._token or not isinstance(report, dict) or self._stopping:
            return
        done, total = int(report.get("done", 0)), int(report.get("total", 0))
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
        stage = str(report.get("stage", "")).strip()
        if stage:
            self.stage.setText(stage[0].upper() + stage[1:] + (f" ({done}/{total})" if total else ""))

    def _finish(self) -> None:
        self._token = None
        self.learn_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.ev.run_button.setEnabled(not self.ev.busy)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)

    def _job_done(self, context, report) -> None:
        if context is not self._token:
            return
        stopped = self._stopping or getattr(report, "status", "done") == "cancelled"
        self._finish()
        self.show_report(report)
        self.w.notebook.refresh()  # the proposals were written on the engine thread
        self.ev._show_history()
        head, tail = finished_text(report, stopped)
        self.stage.setText(f"{head} {self.summary} {tail}")
        if not stopped:
            self.w.notify(f"{head} {tail}", "success" if waiting_count(report) else "info")

    def _job_failed(self, context, message: str) -> None:
        if context is not self._token:
            return
        self._finish()
        self.stage.setText(f"Learning failed: {message}")
        self.w.notify(f"Learning failed: {message}", "error")

    # -- the result --------------------------------------------------------------------------------

    def show_report(self, report: LearnReport) -> None:
        """The report's stored runs as the before/after matrix, and its lessons tried."""
        self.report = report
        store = EvalStore(self.w.ws.db)
        self.runs, self.labels = [], []
        for label, run_id in report_runs(report):
            try:
                self.runs.append(store.load(run_id))
            except WorkbenchError:
                continue  # deleted meanwhile: the others still show
            self.labels.append(label)
        self.rows = question_rows(self.runs)
        self.summary = summary_text(report, self.rows)
        self.stage.setText(self.summary)
        self.stage.setToolTip("\n".join(report.notes))  # what the learner noticed on the way
        self._show_report()

    def _theme_changed(self, _dark: bool) -> None:
        self._show_report()  # its colours were the old palette's

    def _show_report(self) -> None:
        if self.report is None:
            return
        self.matrix.show_rows(self.rows, self.labels, self.runs)
        self._show_candidates()

    def _status(self, cand: Candidate) -> str | None:
        """The proposal's status now (the notebook panel may have decided it meanwhile)."""
        if cand.proposal_id is None:
            return None
        try:
            return self.w.proposals.get(cand.proposal_id).status
        except WorkbenchError:
            return None

    def _show_candidates(self) -> None:
        current = self.candidates.currentIndex().row() if self.candidates.currentItem() else 0
        self.candidates.clear()
        faint = QBrush(QColor(c("faint")))
        for k, cand in enumerate(self.report.candidates):
            status = self._status(cand)
            decided = self._decided.get(cand.proposal_id) if cand.proposal_id else None
            greyed = set_aside(cand, status)
            # The rule, then its figures on a second, fainter line: the rule gets the width.
            text = candidate_row_html(cand, status, palette.current())
            item = QTreeWidgetItem([text, decision_text(cand, status, decided)])
            item.setData(0, Qt.UserRole, k)
            item.setToolTip(0, cand.rule)
            item.setToolTip(1, cand.why)
            if greyed:
                item.setForeground(1, faint)
            elif status == "accepted" or cand.decision == "accepted":
                item.setForeground(1, QBrush(QColor(c("success"))))
            self.candidates.addTopLevelItem(item)
        if self.report.candidates:
            self.candidates.setCurrentItem(self.candidates.topLevelItem(
                min(current, len(self.report.candidates) - 1)))
        else:
            self.details.setHtml(no_lesson_html(self.report))
        self._enable_decisions()

    def current_candidate(self) -> Candidate | None:
        item = self.candidates.currentItem()
        if item is None or self.report is None:
            return None
        return self.report.candidates[item.data(0, Qt.UserRole)]

    def _show_candidate(self) -> None:
        cand = self.current_candidate()
        if cand is not None:
            self.details.setHtml(candidate_html(cand, self._status(cand),
                                                self._decided.get(cand.proposal_id), palette.current()))
        self._enable_decisions()

    def _show_question(self, row: int) -> None:
        if not 0 <= row < len(self.rows):
            return
        self.details.setHtml(question_html(self.rows[row], self.labels, palette.current()))

    def _enable_decisions(self) -> None:
        cand = self.current_candidate()
        open_ = cand is not None and cand.decision == "proposed" and self._status(cand) == "pending"
        self.accept_button.setEnabled(open_)
        self.reject_button.setEnabled(open_)

    # -- deciding --------------------------------------------------------------------------------

    def accept(self) -> None:
        cand = self.current_candidate()
        if cand is None or cand.proposal_id is None:
            return
        try:
            lesson = self.w.proposals.accept(cand.proposal_id)  # placed as it was measured
        except WorkbenchError as e:
            self.w.notify(str(e), "warning")
            self._show_candidates()
            return
        self._decided[cand.proposal_id] = lesson.id
        self.w.notebook.refresh()
        self.w.notebook.changed.emit()  # the prompt and its budget follow
        self._show_candidates()
        self.w.notify(f"Lesson #{lesson.id} is in the notebook (from {SOURCE_WORDS.get(lesson.source, '?')}): "
                      f"{lesson.text}", "success", ("Show", self.w.learning.show_lessons))

    def reject(self) -> None:
        cand = self.current_candidate()
        if cand is None or cand.proposal_id is None:
            return
        try:
            self.w.proposals.reject(cand.proposal_id)
        except WorkbenchError as e:
            self.w.notify(str(e), "warning")
        self.w.notebook.refresh()
        self._show_candidates()


def learn_job(db_path, doc: PromptDocument, document_id: int, mode: str, tasks: list[Task], name: str,
              rounds: int, teacher: str | None):
    """The engine thread's Job fn: Learner.learn over its own connection to db_path, closed after."""
    # teacher: None (rules built from the set), "" (the loaded model phrases them), or a GGUF path
    # or server URL loaded for this run only. doc: a copy of the draft (the window edits its own).

    def job(engine, progress, cancelled) -> LearnReport:
        ws = Workspace.open(db_path)  # SQLite connections stay on the thread that opened them
        opened = None
        try:
            coach, coach_mode = (engine, mode) if teacher == "" else (None, None)
            if teacher:
                progress({"stage": "loading the teacher model", "done": 0, "total": 0})
                opts = getattr(engine, "load_result", None)
                opened = coach = open_engine(teacher, LoadOptions(n_ctx=opts.n_ctx if opts else None))
                coach_mode = choose_mode(coach.info).name
            learner = Learner(ws, engine, mode, doc, reflect_with_model=coach is not None,
                              document_id=document_id, set_name=name, teacher=coach, teacher_mode=coach_mode)
            return learner.learn(tasks, rounds, False, None, name, progress=progress, cancelled=cancelled)
        finally:
            if opened is not None:
                opened.unload()
            ws.db.close()

    return job


class _CloseWatch(QObject):
    """Stops a running learning when the window closes: the engine thread must come to an end."""

    def __init__(self, view: LearnView):
        super().__init__(view)
        self.view = view

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Close and self.view.busy:
            self.view.stop()
        return False


def _column(*items) -> QWidget:
    """Widgets and layouts stacked, no margins (one pane of the splitter)."""
    w = QWidget()
    v = QVBoxLayout(w)
    v.setContentsMargins(0, 0, 0, 0)
    for item in items:
        if isinstance(item, QWidget):
            v.addWidget(item, 1 if isinstance(item, (QTableWidget, QTreeWidget, QTextBrowser)) else 0)
        else:
            v.addLayout(item)
    return w
