"""The run log in the window: every generation with its prompt version, model, parameters, stats,
output and rating; filters; the exact rendered prompt of a run; re-running one. Layout and
wiring: the runs are chat.runs.RunLog's, re-running is the session's."""

import json
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.chat.library import one_line, when
from workbench.errors import WorkbenchError
from workbench.ui.layout import copy_text
from workbench.ui.panes import LazyDock

ID = Qt.UserRole
COLUMNS = ("#", "When", "Prompt", "Model", "Settings", "Speed", "Rating", "Output")
RATING_MARK = {1: "good", -1: "bad", None: ""}
REFRESH_MS = 100


def version_text(run: dict) -> str:
    """Which prompt made the run: "v3", "draft" (unsaved), or "deleted version"."""
    if run["version_number"] is not None:
        return f"v{run['version_number']}"
    return "draft" if run["version_id"] is None else "deleted version"


def settings_text(params: dict | None) -> str:
    """The parameters people compare runs by: "T 0.7 · seed 3 · max 256"."""
    p = params or {}
    parts = [f"T {p['temperature']:g}" if "temperature" in p else "",
             f"seed {p['seed']}" if p.get("seed") is not None else "random seed",
             f"max {p['max_tokens']}" if "max_tokens" in p else ""]
    return " · ".join(x for x in parts if x)


def speed_text(stats: dict | None) -> str:
    s = stats or {}
    rate = s.get("decode_tokens_per_s") or 0
    return f"{rate:.0f} tok/s" if rate else f"{s.get('completion_tokens', 0)} tok"


def stats_text(stats: dict | None) -> str:
    s = stats or {}
    return (f"Stats: {s.get('prompt_tokens', 0)} prompt tokens ({s.get('reused_tokens', 0)} reused) · "
            f"{s.get('completion_tokens', 0)} answer tokens · "
            f"{s.get('decode_tokens_per_s', 0):.1f} tok/s · "
            f"first token {s.get('time_to_first_token_s', 0):.2f} s · {s.get('finish_reason', '')}")


class PromptDialog(QDialog):
    """The exact text a run's model got, after its template (objectName runPromptDialog)."""

    def __init__(self, run: dict, parent=None):
        super().__init__(parent)
        self.setObjectName("runPromptDialog")
        self.setWindowTitle(f"Run {run['id']}: the exact prompt")
        self.text = QPlainTextEdit(run["rendered_prompt"] or "(not recorded)")
        self.text.setObjectName("runPrompt")
        self.text.setReadOnly(True)
        info = QLabel(f"{run['model_name']} · {run['mode']} mode · {version_text(run)} · "
                      f"{when(run['created'])}")
        info.setObjectName("mutedText")
        copy = QPushButton("Copy")
        copy.clicked.connect(lambda: copy_text(copy, self.text.toPlainText(), "the run's prompt"))
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(copy)
        buttons.addStretch()
        buttons.addWidget(close)
        v = QVBoxLayout(self)
        v.addWidget(info)
        v.addWidget(self.text, 1)
        v.addLayout(buttons)
        self.resize(760, 560)


class RunLogPanel(QWidget):
    """The runs (runTable), newest first, filtered by prompt version, model and rating, with
    the selected run in full below (runDetail) (objectName runLog).

    Args:
        window: the MainWindow (its workspace, session, sampling panel, generation, notify).
    """

    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.setObjectName("runLog")
        self.w = window
        self.runs: list[dict] = []
        self.doc_names: dict[int, str] = {}
        self.dialog: PromptDialog | None = None
        self.refresh_timer = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self.refresh_timer.timeout.connect(self._refresh_if_seen)

        self.all_prompts = QCheckBox("All prompts")
        self.all_prompts.setObjectName("runAllPrompts")
        self.version = self._combo("runVersionFilter", "Which prompt version made the run")
        self.model = self._combo("runModelFilter", "Which model answered")
        self.rating = self._combo("runRatingFilter", "How the answer was rated")
        for label, data in (("any rating", None), ("good", 1), ("bad", -1), ("not rated", "none")):
            self.rating.addItem(label, data)
        self.count = QLabel()
        self.count.setObjectName("mutedText")
        filters = QHBoxLayout()
        filters.setContentsMargins(0, 0, 0, 0)
        for w in (QLabel("Version"), self.version, QLabel("Model"), self.model, QLabel("Rating"),
                  self.rating, self.all_prompts):
            filters.addWidget(w)
        filters.addStretch()
        filters.addWidget(self.count)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("runTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        for i in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(i, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.Stretch)
        self.table.itemSelectionChanged.connect(self._show_selected)
        self.table.itemDoubleClicked.connect(lambda *_: self.show_prompt())

        self.detail = QPlainTextEdit()
        self.detail.setObjectName("runDetail")
        self.detail.setReadOnly(True)
        self.detail.setPlaceholderText("Choose a run to see it in full.")
        self.prompt_button = QPushButton("Show exact prompt")
        self.prompt_button.setObjectName("runPromptButton")
        self.prompt_button.clicked.connect(lambda: self.show_prompt())
        self.rerun_button = QPushButton("Re-run")
        self.rerun_button.setObjectName("rerunButton")
        self.rerun_button.setToolTip("The same messages and settings again, with the loaded model")
        self.rerun_button.clicked.connect(lambda: self.rerun())
        right = QWidget()
        v = QVBoxLayout(right)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.detail, 1)
        row = QHBoxLayout()
        row.addWidget(self.prompt_button)
        row.addWidget(self.rerun_button)
        row.addStretch()
        v.addLayout(row)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.table)
        split.addWidget(right)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 2)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 4, 6, 6)
        outer.addLayout(filters)
        outer.addWidget(split, 1)

        self.all_prompts.toggled.connect(self.refresh)
        for combo in (self.version, self.model, self.rating):
            combo.currentIndexChanged.connect(self.refresh_rows)
        self.stale = False
        later = self.refresh_timer.start
        window.worker.idle.connect(later)  # new runs were logged
        window.outputs.rated.connect(later)
        window.compare.model().rowsInserted.connect(later)  # a new version, another document
        self.refresh()

    @staticmethod
    def _combo(name: str, tip: str) -> QComboBox:
        combo = QComboBox()
        combo.setObjectName(name)
        combo.setToolTip(tip)
        combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        return combo

    def _document(self) -> int | None:
        return None if self.all_prompts.isChecked() else self.w.session.document_id

    def _refresh_if_seen(self) -> None:
        # Behind another tab nobody reads it: it catches up when it is shown.
        if self.isVisible():
            self.refresh()
        else:
            self.stale = True

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.stale:
            self.refresh()

    def refresh(self) -> None:
        """The filter choices and the rows, as the log is now."""
        self.refresh_timer.stop()
        self.stale = False
        doc = self._document()
        self.doc_names = {d["id"]: d["name"] for d in self.w.ws.prompts.documents()}
        for combo, choices in (
                (self.version, [("any version", None), ("unsaved draft", "draft")]
                 + ([(f"v{v.number}", v.number) for v in reversed(self.w.ws.prompts.versions(doc))]
                    if doc is not None else [])),
                (self.model, [("any model", None)] + [(m, m) for m in self.w.ws.runs.model_names(doc)])):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for label, data in choices:
                combo.addItem(label, data)
            combo.setCurrentIndex(max(0, combo.findData(current)))
            combo.blockSignals(False)
        self.refresh_rows()

    def refresh_rows(self, *_) -> None:
        selected = self.selected_id()
        self.runs = self.w.ws.runs.find(self._document(), self.version.currentData(),
                                        self.model.currentData(), self.rating.currentData())
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.runs))
        for row, r in enumerate(self.runs):
            cells = (str(r["id"]), when(r["created"]), version_text(r), r["model_name"],
                     settings_text(r["params"]), speed_text(r["stats"]), RATING_MARK.get(r["rating"], ""),
                     one_line(r["output"], 200))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(ID, r["id"])
                if col == len(cells) - 1:
                    item.setToolTip((r["output"] or "")[:2000])
                self.table.setItem(row, col, item)
            if r["id"] == selected:
                self.table.selectRow(row)
        self.count.setText(f"{len(self.runs)} run{'' if len(self.runs) == 1 else 's'}")
        if not self.table.selectedItems():
            self._show_selected()

    def selected_id(self) -> int | None:
        items = self.table.selectedItems()
        return items[0].data(ID) if items else None

    def select(self, run_id: int) -> bool:
        for row, r in enumerate(self.runs):
            if r["id"] == run_id:
                self.table.selectRow(row)
                return True
        return False

    def _run(self, run_id: int | None) -> dict | None:
        return next((r for r in self.runs if r["id"] == run_id), None)

    def _show_selected(self) -> None:
        r = self._run(self.selected_id())
        for b in (self.prompt_button, self.rerun_button):
            b.setEnabled(r is not None)
        if r is None:
            self.detail.clear()
            return
        prompt = f"“{self.doc_names[r['document_id']]}”" if r["document_id"] in self.doc_names \
            else f"prompt {r['document_id']}"
        lines = [
            f"Run {r['id']} · {when(r['created'])} · {version_text(r)} of {prompt}",
            f"Model: {r['model_name']} ({r['model_file']}) · {r['mode']} mode",
            f"Rating: {RATING_MARK.get(r['rating']) or 'not rated'}"
            + (f" — {r['comment']}" if r["comment"] else ""),
            f"Settings: {json.dumps(r['params'] or {}, ensure_ascii=False)}",
            stats_text(r["stats"]),
            f"Lessons in the prompt: {', '.join(f'#{i}' for i in r['lesson_ids'] or []) or 'none'}",
            "", r["output"] or "(no output)"]
        self.detail.setPlainText("\n".join(lines))

    def show_prompt(self, run_id: int | None = None) -> PromptDialog | None:
        """Open the exact rendered prompt of the run (the selected one by default)."""
        run_id = run_id if run_id is not None else self.selected_id()
        if run_id is None:
            return None
        run = self._run(run_id)
        if run is None:  # not among the rows shown
            try:
                run = self.w.ws.runs.get(run_id)
            except WorkbenchError as e:
                self.w.notify(str(e), "error")
                return None
            version = self.w.ws.prompts.version_by_id(run["version_id"]) if run["version_id"] else None
            run["version_number"] = version.number if version else None
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = PromptDialog(run, self.w)
        self.dialog.show()
        return self.dialog

    def rerun(self, run_id: int | None = None) -> bool:
        """The run's exact messages again, with its own settings, answered by the loaded model
        as candidates; they are logged as new runs."""
        w, s = self.w, self.w.session
        run_id = run_id if run_id is not None else self.selected_id()
        if run_id is None:
            return False
        if w.generating:
            w.notify("Stop the generation first (Esc).", "warning")
            return False
        if not w.model_ready:
            w.notify("Load a model to re-run: choose one in the Model panel.", "error")
            return False
        try:
            pending = s.rerun(run_id)
            run = w.ws.runs.get(run_id)
        except WorkbenchError as e:
            w.notify(str(e), "error")
            return False
        w.generation.run(pending)  # with the run's own settings; the Sampling panel is left alone
        notes = [f"Re-running run {run_id} with its own settings"]
        loaded = s.engine.info
        if run["model_file"] != Path(loaded.path).name or run["mode"] != s.mode.name:
            notes.append(f"it was made by {run['model_name']} ({run['mode']}); now {loaded.name} "
                         f"({s.mode.name}) answers")
        w.notify("; ".join(notes) + ".", "info")
        return True



def add_run_log(window) -> QDockWidget:
    """Create the dock (objectName runLogDock; its widget runLog, made when first shown or asked
    for: it sits behind another tab at start), add it to window (bottom dock area), return it."""
    dock = LazyDock("Run log", window, lambda: RunLogPanel(window, dock))
    dock.setObjectName("runLogDock")
    dock.setFeatures(QDockWidget.DockWidgetClosable | QDockWidget.DockWidgetMovable
                     | QDockWidget.DockWidgetFloatable)
    window.addDockWidget(Qt.BottomDockWidgetArea, dock)
    return dock
