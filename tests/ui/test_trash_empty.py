"""The library's trash menu empties the trash after asking, in the real window (offscreen, real
SQLite file), and the window's start removes what is past the retention."""

import sqlite3

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.chat.test_trash_retention import age
from tests.ui.test_library import library, make_conversation, names, opened_window
from workbench.chat.library import Library
from workbench.prompt.store import TRASH_DAYS
from workbench.workspace import Workspace


@pytest.fixture
def bare_window(qtbot):
    """The real window, no model loaded, its notices recorded."""
    with opened_window(qtbot) as window:
        yield window


def answer_confirmation(button_text: str, seen: list) -> None:
    """When the confirmation comes up, note what it says and press button_text, as a user."""
    def press():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, press)  # not up yet
            return
        seen.append((box.objectName(), box.text(), box.informativeText()))
        next(b for b in box.buttons() if b.text().replace("&", "") == button_text).click()
    QTimer.singleShot(0, press)


def menu_texts(lib) -> list[str]:
    lib.trash_menu.aboutToShow.emit()  # the menu fills itself as it opens
    return [a.text() for a in lib.trash_menu.actions() if not a.isSeparator()]


def empty_action(lib):
    lib.trash_menu.aboutToShow.emit()
    return next(a for a in lib.trash_menu.actions() if a.text() == "Empty trash…")


def test_empty_trash_asks_first_then_removes_everything(qtbot, bare_window):
    w = bare_window
    lib = library(w)
    cid = make_conversation(w, "Old question about herons", "Old answer.")
    lib.delete_conversation(cid)
    lib.delete_document(lib.library.create_document("Scratch"))
    texts = menu_texts(lib)
    assert texts[:2] == [t for t in texts if t.startswith("Restore")]
    assert texts[2:] == ["Deleted things are removed for good after 30 days.", "Empty trash…"]

    seen = []
    answer_confirmation("Cancel", seen)
    empty_action(lib).trigger()
    assert seen and seen[0][0] == "emptyTrashConfirm" and "cannot be undone" in seen[0][2]
    assert len(lib.library.trash()) == 2  # cancelled: nothing removed

    answer_confirmation("Empty trash", seen)
    empty_action(lib).trigger()
    assert len(seen) == 2
    removed = "Removed for good: 1 prompt (1 version), 1 conversation and 2 messages."
    assert w.notices_seen[-1][:2] == (removed, "success")
    assert menu_texts(lib) == ["The trash is empty"]
    assert "Scratch" not in names(lib.documents)
    lib.conv_search.setText("herons")
    assert names(lib.conversations) == []
    # The window carries on: the open prompt and typing work.
    w.prompt.editor.setPlainText("Still here.")
    assert not w.generating and w.prompt.editor.toPlainText() == "Still here."


def test_emptying_a_busy_database_says_so_and_keeps_the_trash(qtbot, bare_window):
    w = bare_window
    lib = library(w)
    lib.delete_conversation(make_conversation(w, "Kept question", "Kept."))
    w.ws.db.busy_wait = 0.2
    w.ws.db.execute("PRAGMA busy_timeout = 200")
    other = sqlite3.connect(w.ws.db.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program is writing
    try:
        answer_confirmation("Empty trash", [])
        empty_action(lib).trigger()
    finally:
        other.execute("ROLLBACK")
        other.close()
    message, kind, _ = w.notices_seen[-1]
    assert kind == "error" and message.startswith("The trash was not emptied: ") and "busy" in message
    restorable = [t for t in menu_texts(lib) if t.startswith("Restore")]
    assert len(restorable) == 1 and "Kept question" in restorable[0]


def test_the_window_start_removes_what_is_past_the_retention(qtbot):
    ws = Workspace.open()  # the window's own database (WORKBENCH_HOME)
    lib = Library(ws)
    old = lib.delete_conversation(make_conversation_in(ws, "Old question about owls")).trash_id
    recent = lib.delete_conversation(make_conversation_in(ws, "Recent question about larks")).trash_id
    age(ws, old, TRASH_DAYS + 3)
    ws.db.close()
    with opened_window(qtbot) as w:
        lib = library(w)
        assert [e["id"] for e in lib.library.trash()] == [recent]
        assert not any("owls" in t for t in menu_texts(lib))


def make_conversation_in(ws, question: str) -> int:
    cid = ws.conversations.create(document_id=ws.prompts.active_id())
    ws.conversations.append(cid, "user", question)
    return cid
