"""The Evaluate view in the real window: the test set table, a run on the engine thread with the
real model, the coloured matrix, a cell's details, regressions, history, stop."""

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDockWidget, QInputDialog

from workbench.evals.checks import make_check
from workbench.evals.results import EvalStore
from workbench.resources import resource_path
from workbench.ui.eval_view import EvalView
from workbench.ui.pass_matrix import STATE_COLOURS
from workbench.workspace import Workspace

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def view_of(window) -> EvalView:
    dock = window.findChild(QDockWidget, "evalViewDock")
    dock.show()
    dock.raise_()
    view = dock.widget()
    assert view.objectName() == "evalView"
    view.refresh()
    return view


def test_the_case_table_edits_pastes_duplicates_and_refuses_bad_input(qtbot, open_bare_window, tmp_path):
    w = open_bare_window()
    view = view_of(w)
    view.new_set("mine")
    view.add_case()
    assert view.table.rowCount() == 1
    view.table.item(0, 1).setText("regex: km$")
    assert view.sets.tasks(view.set_id)[0].checks == [make_check("regex", "km$")]
    view.table.item(0, 1).setText("bogus: x")  # refused, named, and the stored value stays
    assert w.banner.isVisible() and "bogus" in w.banner.text()
    assert view.table.item(0, 1).text() == "regex: km$"
    QApplication.clipboard().setText("How far is Oslo?\tcontains: km\tAbout 300 km.\ttest\n"
                                     "Say hi\tmax_words: 3 | not_contains: rude\n")
    view.table.setFocus()
    qtbot.keyClick(view.table, Qt.Key_V, Qt.ControlModifier)
    assert [t.query for t in view.sets.tasks(view.set_id)] == ["New question?", "How far is Oslo?", "Say hi"]
    assert view.sets.tasks(view.set_id)[1].split == "test"
    view.table.clearSelection()
    view.table.selectRow(1)
    view.duplicate_case()
    assert [view.table.item(r, 0).text() for r in range(4)] == [
        "New question?", "How far is Oslo?", "How far is Oslo?", "Say hi"]
    view.table.clearSelection()
    view.table.selectRow(0)
    view.delete_case()
    assert view.table.rowCount() == 3 and len(view.sets.tasks(view.set_id)) == 3
    assert view.paste_rows("Fine\tcontains: x\nBroken\tregex: (\n") == 0
    assert "Row 2" in w.banner.text() and len(view.sets.tasks(view.set_id)) == 3
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "q", "contains": "km"}\n{"query": 5}\n')
    assert view.import_file(str(bad), "bad") is None
    assert "Line 2" in w.banner.text() and [s["name"] for s in view.sets.sets(view.document_id)] == ["mine"]
    assert view.run() is False  # no model to run: said so, and the view is not left busy
    assert "model" in w.banner.text() and not view.busy and view.run_button.isEnabled()


def answer_input_dialog(text: str | None) -> list[str]:
    """Type text into the next QInputDialog and press OK (None: Cancel), as a user does once it
    opens; returns the labels of the dialogs answered, for the test to check one came."""
    answered = []

    def look(tries=250):
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, QInputDialog):
            answered.append(dialog.labelText())
            if text is None:
                dialog.reject()
            else:
                dialog.setTextValue(text)
                dialog.accept()
        elif tries:
            QTimer.singleShot(20, lambda: look(tries - 1))

    QTimer.singleShot(0, look)
    return answered


def set_labels(view) -> list[str]:
    return [view.set_combo.itemText(i) for i in range(view.set_combo.count())]


def test_new_set_asks_for_a_name_and_lists_the_set_chosen(qtbot, open_bare_window):
    w = open_bare_window()
    view = view_of(w)
    answered = answer_input_dialog(None)  # Cancel: nothing made, nothing said
    qtbot.mouseClick(view.new_set_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: bool(answered), timeout=5000)
    assert view.set_combo.count() == 0 and not w.banner.isVisible()
    answered = answer_input_dialog("Travel facts")
    qtbot.mouseClick(view.new_set_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: view.set_combo.count() == 1, timeout=5000)
    assert answered == ["Name:"] and not w.banner.isVisible(), w.banner.text()
    assert [s["name"] for s in view.sets.sets(view.document_id)] == ["Travel facts"]
    assert view.set_combo.currentText() == "Travel facts (0)" and view.set_name == "Travel facts"
    answered = answer_input_dialog("Second")
    qtbot.mouseClick(view.new_set_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: view.set_combo.count() == 2, timeout=5000)
    assert view.set_combo.currentText() == "Second (0)" and view.table.rowCount() == 0


def test_the_set_list_counts_cases_as_they_are_added_and_removed(qtbot, open_bare_window):
    w = open_bare_window()
    view = view_of(w)
    qtbot.mouseClick(view.add_button, Qt.LeftButton)  # no set yet: one is made for the case
    qtbot.mouseClick(view.add_button, Qt.LeftButton)
    assert view.table.rowCount() == 2
    assert set_labels(view) == ["Test set (2)"]
    view.table.clearSelection()
    view.table.selectRow(0)
    qtbot.mouseClick(view.duplicate_button, Qt.LeftButton)
    assert view.set_combo.currentText() == "Test set (3)"
    view.table.clearSelection()
    view.table.selectRow(2)
    qtbot.mouseClick(view.delete_button, Qt.LeftButton)
    assert view.set_combo.currentText() == "Test set (2)"
    assert view.paste_rows("Say hi\tmax_words: 3\n") == 1
    assert view.set_combo.currentText() == "Test set (3)"
    # Another set keeps its own count; going back shows this one's.
    answered = answer_input_dialog("Empty")
    qtbot.mouseClick(view.new_set_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: view.set_combo.count() == 2, timeout=5000)
    assert answered and set_labels(view) == ["Test set (3)", "Empty (0)"]
    view.set_combo.setCurrentIndex(0)
    assert view.table.rowCount() == 3 and view.set_name == "Test set"
    view.refresh()  # re-read from the database: the same counts
    assert set_labels(view) == ["Test set (3)", "Empty (0)"]


def prepare_versions() -> None:
    """v2: a role, greedy and short; v3: the same plus a demonstration of the km convention."""
    ws = Workspace.open()
    doc_id = ws.prompts.active_id()
    doc = ws.prompts.load_draft(doc_id)
    doc.set_section("role", "You are a travel assistant. Answer in one sentence.")
    doc.params = {"temperature": 0, "max_tokens": 40, "seed": 0, "repeat_penalty": 1.0}
    ws.prompts.save_version(doc_id, doc)
    from workbench.prompt.document import Example
    doc.examples.append(Example("How far is it from Paris to Berlin?", "It is about 880 km from Paris to Berlin."))
    ws.prompts.save_version(doc_id, doc)
    ws.db.close()


def km_set(tmp_path):
    lines = [line for line in resource_path("tasks", "house_conventions.jsonl").read_text().splitlines()
             if '"km"' in line and '"test"' in line]
    path = tmp_path / "km.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def choose(lst, keys) -> None:
    for i in range(lst.count()):
        item = lst.item(i)
        item.setCheckState(Qt.Checked if item.data(Qt.UserRole) in keys else Qt.Unchecked)


def test_a_run_fills_the_matrix_shows_cells_regressions_history_and_stops(qtbot, open_window, tmp_path):
    """Measured on SmolLM2-135M (greedy): v2 0/6, v3 6/6; the test asks for a margin of 3."""
    prepare_versions()
    w = open_window()
    view = view_of(w)
    assert view.import_file(str(km_set(tmp_path)), "km")
    choose(view.variants, {"2", "3"})
    assert view.models.count() >= 1
    qtbot.mouseClick(view.run_button, Qt.LeftButton)
    assert view.busy and not view.run_button.isEnabled()
    qtbot.waitUntil(lambda: not view.busy, timeout=300_000)
    result = view.result
    assert result is not None and result.run_id is not None, w.banner.text()
    labels = [c.label for c in result.plan.columns]
    assert labels == ["v3", "v2"] and view.matrix.rowCount() == 6 and view.matrix.columnCount() == 2
    v3, v2 = (result.column_stats(j)["passed"] for j in (0, 1))
    print(f"window run: v3 {v3}/6, v2 {v2}/6")
    assert v3 - v2 >= 3
    # Cells: k/N, coloured by state; v2's losses against the baseline v3 are marked.
    regressions = result.compare(0)[1]["regressions"]
    assert len(regressions) >= 3
    i = regressions[0]
    item = view.matrix.item(i, 1)
    assert item.text() == "▼ 0/1" and item.background().color() == STATE_COLOURS["fail"]
    assert view.matrix.item(i, 0).background().color() == STATE_COLOURS["pass"]
    assert "regression" in view.summary.text()
    view.matrix.cellClicked.emit(i, 1)
    details = view.details.toPlainText()
    assert "contains" in details and "Exact prompt:" in details and "<|im_start|>" in details
    assert result.plan.cases[i].query in details
    # History: both versions carry this run; the trend shows it.
    assert {view.history_version.itemText(k) for k in range(view.history_version.count())} == {"v2", "v3"}
    assert len(view.trend.points) == 1 and view.history.count() == 1
    w.resizeDocks([w.findChild(QDockWidget, "evalViewDock")], [480], Qt.Vertical)
    qtbot.wait(50)
    ARTIFACTS.mkdir(exist_ok=True)
    w.grab().save(str(ARTIFACTS / "eval_view.png"))

    # Stop: at once, the finished cells kept and stored as a cancelled run.
    view.repeats.setValue(20)
    got = []
    w.worker.jobProgress.connect(lambda _c, report: got.append(report))
    qtbot.mouseClick(view.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: bool(got), timeout=60_000)
    qtbot.mouseClick(view.stop_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not view.busy, timeout=10_000)
    assert view.result.status == "cancelled" and "Stopped" in view.status.text()
    runs = EvalStore(w.ws.db).runs(view.document_id)
    assert runs[0]["status"] == "cancelled" and len(runs) == 2
