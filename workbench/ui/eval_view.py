"""The Evaluate view: the document's test sets as a table, the run matrix (variants x models,
k/N per cell), a cell's output, prompt and verdicts, and each version's scores over time.

Layout and wiring only: planning, running, checking and storing live in workbench.evals. The
evaluation runs on the engine thread as a worker Job that only generates and checks; results
are stored here, on the window's thread, which owns the database connection.
"""

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.errors import WorkbenchError
from workbench.evals import runner
from workbench.evals.report import cell_details
from workbench.evals.results import EvalStore
from workbench.evals.run_text import (
    comparison_text,
    finished_text,
    history_line,
    progress_text,
    set_label,
    set_name_of,
)
from workbench.evals.sets import (
    TestSetStore,
    case_from_cells,
    checks_cell,
    detect_format,
    parse_pasted,
    read_set_file,
    write_set_text,
)
from workbench.ui.case_table import CaseTable
from workbench.ui.pass_matrix import RunMatrix
from workbench.ui.trend_chart import TrendChart
from workbench.ui.worker import Job


class EvalView(QWidget):
    """Args:
        window: the MainWindow (its workspace, session, worker, model list and notices).

    Signals:
        requestJob(object): a queued worker Job (connected to window.worker.run_job).
    """

    requestJob = Signal(object)

    def __init__(self, window):
        super().__init__()
        self.setObjectName("evalView")
        self.w = window
        self.sets = TestSetStore(window.ws.db)
        self.results = EvalStore(window.ws.db)
        self.result: runner.EvalResult | None = None
        self._token: object | None = None  # the running evaluation's Job context
        self._loading = False
        self._case_ids: list[int] = []
        self._build()
        self._wire()
        self.refresh()

    # -- building -------------------------------------------------------------------------

    def _build(self) -> None:
        self.set_combo = QComboBox()
        self.set_combo.setObjectName("evalSetCombo")
        self.new_set_button = QPushButton("New set…")
        self.import_button = QPushButton("Import…")
        self.export_button = QPushButton("Export…")
        self.delete_set_button = QPushButton("Delete set")
        top = QHBoxLayout()
        top.addWidget(QLabel("Test set:"))
        top.addWidget(self.set_combo, 1)
        for b in (self.new_set_button, self.import_button, self.export_button, self.delete_set_button):
            top.addWidget(b)
        self.table = CaseTable()
        self.add_button = QPushButton("Add case")
        self.duplicate_button = QPushButton("Duplicate")
        self.delete_button = QPushButton("Delete")
        case_buttons = QHBoxLayout()
        for b in (self.add_button, self.duplicate_button, self.delete_button):
            case_buttons.addWidget(b)
        case_buttons.addWidget(QLabel("Ctrl+V pastes rows: query, checks, ideal, split"))
        case_buttons.addStretch()
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addLayout(top)
        lv.addWidget(self.table, 1)
        lv.addLayout(case_buttons)

        self.variants = QListWidget()
        self.variants.setObjectName("evalVariants")
        self.models = QListWidget()
        self.models.setObjectName("evalModels")
        for lst in (self.variants, self.models):
            lst.setMaximumHeight(72)
        self.repeats = QSpinBox()
        self.repeats.setRange(1, 100)
        self.repeats.setPrefix("repeats: ")
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("evalRunButton")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("evalStopButton")
        self.stop_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setObjectName("evalProgress")
        self.status = QLabel("")
        self.status.setObjectName("evalStatus")
        self.baseline = QComboBox()
        self.baseline.setObjectName("evalBaseline")
        choose = QHBoxLayout()
        for title, lst in (("Versions", self.variants), ("Models", self.models)):
            box = QVBoxLayout()
            box.addWidget(QLabel(title))
            box.addWidget(lst)
            choose.addLayout(box, 1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Re-read the test sets, versions and models")
        controls = QVBoxLayout()
        controls.addWidget(self.refresh_button)
        controls.addWidget(self.repeats)
        controls.addWidget(self.run_button)
        controls.addWidget(self.stop_button)
        self.learn_button = QPushButton("Learn…")
        self.learn_button.setObjectName("evalLearnButton")
        self.learn_button.setToolTip("Learn lessons from this set's train questions, measured on its "
                                     "test questions")
        controls.addWidget(self.learn_button)
        controls.addStretch()
        choose.addLayout(controls)
        self.matrix = RunMatrix()
        self.summary = QLabel("")
        self.summary.setObjectName("evalSummary")
        self.summary.setWordWrap(True)
        self.details = QPlainTextEdit()
        self.details.setObjectName("evalDetails")
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("Click a cell: its output, the checks' verdicts and the exact prompt.")
        middle = QWidget()
        mv = QVBoxLayout(middle)
        mv.setContentsMargins(0, 0, 0, 0)
        mv.addLayout(choose)
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(QLabel("Baseline:"))
        row.addWidget(self.baseline)
        mv.addLayout(row)
        mv.addWidget(self.status)
        split = QSplitter(Qt.Horizontal)  # side by side: the matrix keeps the dock's height
        split.addWidget(self.matrix)
        split.addWidget(self.details)
        split.setSizes([420, 340])
        mv.addWidget(split, 1)
        mv.addWidget(self.summary)

        self.history_version = QComboBox()
        self.history_version.setObjectName("evalHistoryVersion")
        self.trend = TrendChart()
        self.history = QListWidget()
        self.history.setObjectName("evalHistory")
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(QLabel("History of"))
        rv.addWidget(self.history_version)
        rv.addWidget(self.trend)
        rv.addWidget(self.history, 1)

        outer = QSplitter(Qt.Horizontal)
        outer.setObjectName("evalSplitter")
        for part in (left, middle, right):
            outer.addWidget(part)
        outer.setSizes([480, 760, 220])
        # The Learn page joins as a second tab when first asked for (show_learning).
        self.pages = QTabWidget()
        self.pages.setObjectName("evalPages")
        self.pages.setTabBarAutoHide(True)
        self.pages.addTab(outer, "Test set and runs")
        self.learn_view = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.pages)

    def show_learning(self):
        """The Learn page for the chosen test set (made on first use), at a height it can use."""
        if self.learn_view is None:
            from workbench.ui.learn_view import LearnView  # on demand: the window starts without it
            self.learn_view = LearnView(self)
            self.pages.addTab(self.learn_view, "Learn")
        self.learn_view.refresh()
        self.pages.setCurrentWidget(self.learn_view)
        dock = self.parentWidget()
        if isinstance(dock, QDockWidget) and dock.height() < self.w.height() * 0.45:
            self.w.resizeDocks([dock], [int(self.w.height() * 0.5)], Qt.Vertical)
        return self.learn_view

    def _wire(self) -> None:
        self.learn_button.clicked.connect(self.show_learning)
        self.set_combo.currentIndexChanged.connect(self.show_cases)
        self.new_set_button.clicked.connect(lambda: self.new_set())  # not clicked's checked as the name
        self.import_button.clicked.connect(self.import_dialog)
        self.export_button.clicked.connect(self.export_dialog)
        self.delete_set_button.clicked.connect(self.delete_set)
        self.add_button.clicked.connect(self.add_case)
        self.duplicate_button.clicked.connect(self.duplicate_case)
        self.delete_button.clicked.connect(self.delete_case)
        self.table.itemChanged.connect(self._case_edited)
        self.table.pasted.connect(self.paste_rows)
        self.refresh_button.clicked.connect(self.refresh)
        self.run_button.clicked.connect(self.run)
        self.stop_button.clicked.connect(self.stop)
        self.matrix.cellClicked.connect(self.show_cell)
        self.baseline.currentIndexChanged.connect(lambda _i: self._show_matrix())
        self.history_version.currentIndexChanged.connect(lambda _i: self._show_history())
        self.history.itemActivated.connect(self._open_run)
        QShortcut(QKeySequence("Ctrl+D"), self.table, activated=self.duplicate_case)
        self.requestJob.connect(self.w.worker.run_job)
        self.w.worker.jobProgress.connect(self._job_progress)
        self.w.worker.jobDone.connect(self._job_done)
        self.w.worker.jobFailed.connect(self._job_failed)

    # -- what the view shows ------------------------------------------------------------

    @property
    def document_id(self) -> int:
        return self.w.session.document_id

    @property
    def busy(self) -> bool:
        """An evaluation or a learning run has the engine."""
        return self._token is not None or (self.learn_view is not None and self.learn_view.busy)

    def refresh(self) -> None:
        """Re-read the sets, versions and models (after a document switch or a new version)."""
        self._doc_shown = self.document_id
        current = self.set_combo.currentData()
        self.set_combo.blockSignals(True)
        self.set_combo.clear()
        for s in self.sets.sets(self.document_id):
            self.set_combo.addItem(set_label(s["name"], s["cases"]), s["id"])
        index = self.set_combo.findData(current)
        self.set_combo.setCurrentIndex(max(index, 0))
        self.set_combo.blockSignals(False)
        self.show_cases()
        checked = self._checked(self.variants) or ["draft"]
        self.variants.clear()
        choices = [("draft", "draft")] + [(f"v{v.number}", str(v.number))
                                          for v in reversed(self.w.ws.prompts.versions(self.document_id))]
        for label, key in choices:
            self._check_item(self.variants, label, key, key in checked)
        checked_models = self._checked(self.models)
        self.models.clear()
        combo = self.w.model_panel.models
        for i in range(combo.count()):
            path = combo.itemData(i)
            wanted = path in checked_models or (not checked_models and i == combo.currentIndex())
            self._check_item(self.models, combo.itemText(i), path, wanted)
        self._show_history()

    @staticmethod
    def _check_item(lst: QListWidget, text: str, data, checked: bool) -> None:
        item = QListWidgetItem(text)
        item.setData(Qt.UserRole, data)
        item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
        item.setCheckState(Qt.Checked if checked else Qt.Unchecked)
        lst.addItem(item)

    @staticmethod
    def _checked(lst: QListWidget) -> list:
        return [lst.item(i).data(Qt.UserRole) for i in range(lst.count())
                if lst.item(i).checkState() == Qt.Checked]

    def say(self, message: str) -> None:
        self.w.show_error(message)

    # -- test sets and cases --------------------------------------------------------------

    @property
    def set_id(self) -> int | None:
        return self.set_combo.currentData()

    @property
    def set_name(self) -> str:
        return set_name_of(self.set_combo.currentText())

    def show_cases(self) -> None:
        self._loading = True
        try:
            cases = self.sets.cases(self.set_id) if self.set_id else []
            self._case_ids = [c.id for c in cases]
            if self.set_id:  # the list's label follows the number of cases
                self.set_combo.setItemText(self.set_combo.currentIndex(), set_label(self.set_name, len(cases)))
            self.table.setRowCount(len(cases))
            for row, c in enumerate(cases):
                for col, text in enumerate((c.task.query, checks_cell(c.task), c.task.ideal or "",
                                            c.task.split)):
                    self.table.setItem(row, col, QTableWidgetItem(text))
        finally:
            self._loading = False

    def new_set(self, name: str | None = None) -> int | None:
        if name is None:
            name, ok = QInputDialog.getText(self, "New test set", "Name:")
            if not ok:
                return None
        try:
            set_id = self.sets.create(self.document_id, name)
        except WorkbenchError as e:
            self.say(str(e))
            return None
        self.refresh()
        self.set_combo.setCurrentIndex(self.set_combo.findData(set_id))
        return set_id

    def import_file(self, path: str, name: str) -> int | None:
        """Store a file's cases as a new set; a malformed file is refused and nothing is written."""
        try:
            tasks = read_set_file(path)
            set_id = self.sets.create(self.document_id, name, tasks)
        except WorkbenchError as e:
            self.say(str(e))
            return None
        self.refresh()
        self.set_combo.setCurrentIndex(self.set_combo.findData(set_id))
        return set_id

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a test set", "",
                                              "Test sets (*.jsonl *.json *.csv *.tsv *.yaml *.yml)")
        if path:
            from pathlib import Path
            self.import_file(path, Path(path).stem)

    def export_dialog(self) -> None:
        if not self.set_id:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export the test set", "",
                                              "JSONL (*.jsonl);;CSV (*.csv);;promptfoo tests (*.yaml)")
        if path:
            try:
                from pathlib import Path
                Path(path).write_text(write_set_text(self.sets.tasks(self.set_id), detect_format(path)),
                                      encoding="utf-8")
            except (WorkbenchError, OSError) as e:
                self.say(f"The test set was not exported: {e}")

    def delete_set(self) -> None:
        if self.set_id:
            self.sets.delete(self.set_id)
            self.refresh()

    def _selected_row(self) -> int:
        if self.table.currentRow() >= 0:
            return self.table.currentRow()
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return rows[0] if rows else -1

    def add_case(self) -> None:
        if not self.set_id and self.new_set("Test set") is None:
            return
        task = case_from_cells("New question?", "contains: answer")
        self.sets.add_case(self.set_id, task)
        self.show_cases()
        self.table.setCurrentCell(self.table.rowCount() - 1, 0)

    def duplicate_case(self) -> None:
        row = self._selected_row()
        if 0 <= row < len(self._case_ids):
            self.sets.duplicate_case(self._case_ids[row])
            self.show_cases()
            self.table.setCurrentCell(row + 1, 0)

    def delete_case(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()} or {self.table.currentRow()})
        for row in reversed(rows):
            if 0 <= row < len(self._case_ids):
                self.sets.delete_case(self._case_ids[row])
        self.show_cases()

    def _case_edited(self, item: QTableWidgetItem) -> None:
        if self._loading:
            return
        row = item.row()
        cells = [(self.table.item(row, c).text() if self.table.item(row, c) else "") for c in range(4)]
        try:
            self.sets.update_case(self._case_ids[row], case_from_cells(*cells, where=f"Row {row + 1}"))
        except WorkbenchError as e:
            self.say(f"{e} The case keeps its previous value.")
            self.show_cases()  # back to what is stored

    def paste_rows(self, text: str) -> int:
        """Rows from a spreadsheet become cases; a bad row is named and nothing is added."""
        try:
            tasks = parse_pasted(text)
        except WorkbenchError as e:
            self.say(f"Nothing was pasted: {e}")
            return 0
        if not tasks:
            return 0
        if not self.set_id and self.new_set("Test set") is None:
            return 0
        for t in tasks:
            self.sets.add_case(self.set_id, t)
        self.show_cases()
        return len(tasks)

    # -- running ----------------------------------------------------------------------------

    def run(self) -> bool:
        """Plan on this thread (it reads the database), run on the engine thread."""
        if self.busy or self.w.generating:
            self.say("The model is busy; try again when it has finished.")
            return False
        if self._doc_shown != self.document_id:
            self.refresh()
            self.say("Another prompt document is open now: check its test set and columns, then run.")
            return False
        if not self.set_id:
            self.say("Choose or import a test set first.")
            return False
        models = self._checked(self.models)
        try:
            self.w.save_draft()
            variants = runner.variants_for(self.w.ws, self.document_id,
                                           ",".join(self._checked(self.variants)) or "draft",
                                           draft=self.w.session.document)
            plan = runner.plan(self.w.ws, variants, models, self.sets.tasks(self.set_id),
                               repeats=self.repeats.value(), seed=0, document_id=self.document_id,
                               set_id=self.set_id, set_name=self.set_name,
                               mode=self.w.model_panel.mode.currentText())
        except WorkbenchError as e:
            self.say(str(e))
            return False
        self._token = object()
        self.progress.setRange(0, plan.total_cells)
        self.progress.setValue(0)
        self.status.setText(f"Running {plan.total_cells} cells…")
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)

        def job(engine, progress, cancelled):
            opts = engine.load_result
            cache = runner.EngineCache(engine, opts.n_ctx if opts else None)
            try:
                return runner.execute(plan, cache, progress, cancelled)
            finally:
                cache.close()

        self.requestJob.emit(Job(job, self._token))
        return True

    def stop(self) -> None:
        if self.busy:
            self.w.worker.stop()

    def _job_progress(self, context, report) -> None:
        if context is not self._token:
            return
        self.progress.setValue(report["done"])
        self.status.setText(progress_text(report))

    def _finish(self) -> None:
        self._token = None
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def _job_done(self, context, result) -> None:
        if context is not self._token:
            return
        self._finish()
        try:
            self.results.save(result)
        except WorkbenchError as e:
            self.say(f"The results are shown but were not stored: {e}")
        self.status.setText(finished_text(result))
        self.show_result(result)
        self._show_history()

    def _job_failed(self, context, message: str) -> None:
        if context is not self._token:
            return
        self._finish()
        self.status.setText("Failed.")
        self.say(message)

    # -- the matrix -----------------------------------------------------------------------

    def show_result(self, result: runner.EvalResult) -> None:
        self.result = result
        self.baseline.blockSignals(True)
        self.baseline.clear()
        for c in result.plan.columns:
            self.baseline.addItem(c.label)
        self.baseline.blockSignals(False)
        self._show_matrix()

    def _show_matrix(self) -> None:
        result = self.result
        if result is None:
            return
        base = max(0, self.baseline.currentIndex())
        compared = result.compare(base) if len(result.plan.columns) > 1 else {}
        self.matrix.show_result(result, base, compared)
        self.summary.setText(comparison_text([c.label for c in result.plan.columns], base, compared))

    def show_cell(self, row: int, column: int) -> None:
        if self.result is not None:
            self.details.setPlainText(cell_details(self.result, column, row))

    # -- history ------------------------------------------------------------------------------

    def _show_history(self) -> None:
        history = self.results.history(self.document_id)
        current = self.history_version.currentText()
        self.history_version.blockSignals(True)
        self.history_version.clear()
        self.history_version.addItems(list(history))
        index = self.history_version.findText(current)
        self.history_version.setCurrentIndex(max(index, 0))
        self.history_version.blockSignals(False)
        rows = history.get(self.history_version.currentText(), [])
        self.trend.set_points([r["rate"] for r in rows])
        self.history.clear()
        for r in reversed(rows):
            item = QListWidgetItem(history_line(r))
            item.setData(Qt.UserRole, r["run_id"])
            self.history.addItem(item)

    def _open_run(self, item: QListWidgetItem) -> None:
        """A stored run back in the matrix."""
        self.show_result(self.results.load(item.data(Qt.UserRole)))

