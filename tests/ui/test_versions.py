"""Prompt versions in the real window: saving with a note, the side-by-side diff with its
highlights, restoring a version into the draft and undoing it, answering with a version."""

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QApplication

from tests.ui.test_library import library, opened_window, undo
from workbench.chat.library import DRAFT
from workbench.ui import palette
from workbench.ui.versions import VersionNoteDialog, ask_version_note

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture
def bare_window(qtbot):
    with opened_window(qtbot) as window:
        yield window


def two_versions(w) -> None:
    """v2 says pirate; the draft says poet and has an example more."""
    w.session.document.set_section("role", "You are a pirate.\nSpeak like one.")
    w.session.save_version("pirate")
    w.document_opened()
    w.prompt.editor.setPlainText("You are a poet.\nSpeak like one.")  # the role is the open section
    library(w).refresh()


def selections_on(view, block: int) -> list:
    return [s for s in view.extraSelections() if s.cursor.block().blockNumber() == block]


def test_the_diff_marks_the_changed_line_and_words(qtbot, bare_window):
    w = bare_window
    two_versions(w)
    panel = library(w).versions
    assert panel.selected() == 2  # the newest is chosen
    qtbot.waitUntil(lambda: panel.state.text() == "Draft: unsaved changes since v2", timeout=2000)
    qtbot.mouseClick(panel.compare_button, Qt.LeftButton)
    diff = panel.dialog.diff
    assert diff.objectName() == "versionDiff" and diff.isVisible()
    assert diff.left_choice.currentData() == 2 and diff.right_choice.currentData() == DRAFT
    changed = [i for i, r in enumerate(diff.rows) if r.tag != "equal"]
    assert [(diff.rows[i].left, diff.rows[i].right) for i in changed] == [
        ("You are a pirate.", "You are a poet.")]
    assert diff.summary.text() == "1 line changed"
    line = changed[0]
    assert "You are a pirate." in diff.left_view.document().findBlockByNumber(line).text()
    assert "You are a poet." in diff.right_view.document().findBlockByNumber(line).text()
    for view, tint in ((diff.left_view, "error_bg"), (diff.right_view, "success_bg")):
        marks = selections_on(view, line)
        assert QColor(palette.c(tint)) in [s.format.background().color() for s in marks]
        words = [s.cursor.selectedText() for s in marks if s.format.fontWeight() == QFont.Bold]
        assert words and all(word not in ("You are a ", "Speak like one.") for word in words)
    assert not any(s.format.background().color() == QColor(palette.c("error_bg"))
                   for s in selections_on(diff.left_view, line + 1))  # the same line: not marked
    w.prompt.editor.setPlainText("You are a pirate.\nSpeak like one.\nAnd sing.")  # still typing
    qtbot.waitUntil(lambda: diff.summary.text() == "1 added", timeout=2000)  # the diff follows
    diff.set_sides(1, 2)  # any two versions
    assert diff.summary.text() != "No differences" and diff.left_label.text().startswith("Version 1")


def test_a_change_at_the_end_of_a_long_line_is_on_screen_and_the_rows_stay_side_by_side(qtbot, bare_window):
    w = bare_window
    paragraph = ("You help customers of a router company with setup, billing and repairs; you are "
                 "patient, you never guess at account details, and you always end by asking ")
    w.session.document.set_section("role", paragraph + "whether anything else is unclear.\nSign as Ada.")
    w.session.save_version("long")
    w.document_opened()
    w.prompt.editor.setPlainText(paragraph + "if the problem is solved.\nSign as Ada.")
    library(w).refresh()
    dialog = library(w).versions.compare(2, DRAFT)
    qtbot.waitUntil(dialog.isVisible, timeout=2000)
    diff = dialog.diff
    qtbot.wait(50)  # the views' first resize rewraps them
    line = next(i for i, r in enumerate(diff.rows) if r.tag == "replace")
    for view in (diff.left_view, diff.right_view):
        assert view.horizontalScrollBar().maximum() == 0  # wrapped: nothing to scroll to
        marked = [s for s in selections_on(view, line) if s.format.fontWeight() == QFont.Bold]
        end = view.cursorRect(marked[-1].cursor).bottom()
        assert 0 <= end <= view.viewport().height(), end  # the changed words are in view
    # The unchanged line after the paragraph sits at the same height on both sides.
    tops = [v.document().documentLayout().blockBoundingRect(v.document().findBlockByNumber(line + 1)).top()
            for v in (diff.left_view, diff.right_view)]
    start = diff.left_view.document().documentLayout().blockBoundingRect(
        diff.left_view.document().findBlockByNumber(line)).top()
    assert tops[0] == tops[1] and tops[0] - start > diff.left_view.fontMetrics().height() * 1.5  # it wrapped
    ARTIFACTS.mkdir(exist_ok=True)
    assert dialog.grab().save(str(ARTIFACTS / "version-diff-wrapped.png"))


def test_restore_puts_the_version_into_the_draft_and_undo_brings_the_draft_back(qtbot, bare_window):
    w = bare_window
    two_versions(w)
    panel = library(w).versions
    qtbot.mouseClick(panel.restore_button, Qt.LeftButton)
    assert w.session.document.section("role").text == "You are a pirate.\nSpeak like one."
    assert "You are a pirate." in w.prompt.editor.toPlainText()
    assert w.ws.prompts.load_draft(w.session.document_id).section("role").text.startswith("You are a pirate.")
    assert w.notices_seen[-1][:2] == ("Version 2 is now the draft.", "success")
    undo(qtbot, w)
    assert w.prompt.editor.toPlainText() == "You are a poet.\nSpeak like one."
    assert w.ws.prompts.load_draft(w.session.document_id).section("role").text.startswith("You are a poet.")
    assert len(w.ws.prompts.versions(w.session.document_id)) == 2  # restoring made no version


def fill_note_dialog(text: str | None):
    """Answer the note dialog when it opens: type text and save (None: cancel)."""
    def answer():
        dialog = next((d for d in QApplication.topLevelWidgets()
                       if isinstance(d, VersionNoteDialog) and d.isVisible()), None)
        if dialog is None:
            QTimer.singleShot(20, answer)
            return
        if text is None:
            dialog.reject()
        else:
            dialog.note.setText(text)
            dialog.accept()
    QTimer.singleShot(0, answer)


def test_saving_asks_for_a_note_and_lists_it(qtbot, bare_window):
    w = bare_window
    panel = library(w).versions
    w.prompt.editor.setPlainText("You are terse.")
    fill_note_dialog(None)
    assert not panel.save_with_note()  # cancelled: nothing saved
    assert len(w.ws.prompts.versions(w.session.document_id)) == 1
    fill_note_dialog("  shorter   role ")
    assert panel.save_with_note()
    assert [v.note for v in w.ws.prompts.versions(w.session.document_id)] == ["created", "shorter role"]
    assert panel.list.item(0).text().startswith("v2 · ")
    assert panel.list.item(0).data(Qt.UserRole + 1) == "shorter role"
    assert panel.state.text() == "Draft: the same as v2"
    assert ask_version_note(w) is None  # nothing changed since: no dialog, the user is told
    assert "Nothing changed since version 2" in w.notices_seen[-1][0]


def test_answer_with_a_version_chooses_it_for_the_next_answers(qtbot, bare_window):
    w = bare_window
    two_versions(w)
    panel = library(w).versions
    qtbot.mouseClick(panel.answer_button, Qt.LeftButton)
    assert w.compare.currentData() == 2 and w.compare.currentText() == "draft vs version 2"
    assert "compare the draft with version 2" in w.notices_seen[-1][0]


@pytest.fixture
def model_window(qtbot, chat_model_path):
    with opened_window(qtbot, load_model=True) as window:
        yield window


def test_answer_with_a_version_answers_the_question_on_screen_with_it(qtbot, model_window):
    w = model_window
    two_versions(w)
    w.sampling.samples.setValue(1)
    w.input.setPlainText("Who are you?")
    qtbot.mouseClick(w.send_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.generating, timeout=60_000)
    assert len(w.outputs.cards) == 1
    library(w).versions.answer_with(2)
    qtbot.waitUntil(lambda: not w.generating, timeout=60_000)
    assert [c.label for c in w.session.candidates] == ["Current draft", "Version 2"]
    assert len(w.outputs.cards) == 2 and all(card.text for card in w.outputs.cards)
    runs = w.ws.runs.find(w.session.document_id, version=2)
    assert runs and "You are a pirate." in runs[0]["rendered_prompt"]


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_screenshot_of_a_version_diff(qtbot, bare_window, size, dark):
    w = bare_window
    w.resize(*size)
    w.session.document.set_section("role", "You are a patient support agent for Acme routers.\n"
                                           "Answer in three sentences or fewer.\nNever promise refunds.")
    w.session.document.set_section("safety", "Do not ask for passwords.")
    w.session.save_version("first full draft")
    w.document_opened()
    w.prompt.editor.setPlainText("You are a patient, friendly support agent for Acme routers.\n"
                                 "Answer in three sentences or fewer.\nOffer to open a ticket.")
    w.session.document.params["temperature"] = 0.3
    library(w).refresh()
    try:
        palette.apply(dark)
        dialog = library(w).versions.compare(2, DRAFT)
        qtbot.waitUntil(dialog.isVisible, timeout=2000)
        qtbot.wait(50)
        diff = dialog.diff
        line = next(i for i, r in enumerate(diff.rows) if r.tag == "replace")
        tint = QColor((palette.DARK if dark else palette.LIGHT)["error_bg"])
        assert tint in [s.format.background().color() for s in selections_on(diff.left_view, line)]
        ARTIFACTS.mkdir(exist_ok=True)
        name = f"version-diff-{size[0]}x{size[1]}{'-dark' if dark else ''}.png"
        assert dialog.grab().save(str(ARTIFACTS / name))
        assert dialog.width() <= size[0] and diff.left_view.width() > 250
    finally:
        palette.apply(False)
