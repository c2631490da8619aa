"""The library sidebar in the real window (offscreen, real SQLite file): switching prompts keeps
each draft, old conversations open and are found by their words, deletions are undone."""

import json
from contextlib import contextmanager
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QDockWidget, QPushButton

from workbench.app import build, shutdown
from workbench.ui import palette
from workbench.ui.library import LibraryPanel, add_library

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@contextmanager
def opened_window(qtbot, load_model: bool = False):
    """The real window at 1366x768 with its library dock, the notices it gives recorded; with
    load_model, once the default chat model is loaded (greedy, short answers)."""
    window, thread = build(load_model=load_model)
    try:
        window.resize(1366, 768)
        window.show()
        dock = window.findChild(QDockWidget, "promptLibraryDock") or add_library(window)
        dock.show()
        window.notices_seen = capture_notices(window)
        if load_model:
            qtbot.waitUntil(lambda: window.model_ready or window.banner.isVisible(), timeout=30_000)
            assert window.model_ready, window.banner.text()
            window.sampling.temperature.setValue(0)
            window.sampling.max_tokens.setValue(24)
        yield window
    finally:
        close_notices(qtbot, window)
        shutdown(window, thread)
        window.deleteLater()
        qtbot.wait(1)


@pytest.fixture
def bare_window(qtbot):
    """The real window, no model loaded."""
    with opened_window(qtbot) as window:
        yield window


def close_notices(qtbot, window) -> None:
    """Close the notices still up (and let them go) before the window does."""
    from workbench.ui.notice import Notice
    for n in window.findChildren(Notice):
        n.close_notice()
    qtbot.waitUntil(lambda: not window.findChildren(Notice), timeout=2000)


def library(window) -> LibraryPanel:
    return window.findChild(LibraryPanel, "promptLibrary")


def capture_notices(window) -> list:
    """What the window was asked to tell the user (message, kind, action), newest last."""
    seen, notify = [], window.notify

    def record(message, kind="info", action=None):
        seen.append((message, kind, action))
        return notify(message, kind, action)

    window.notify = record
    return seen


def undo(qtbot, window) -> None:
    """Press Undo on the newest notice that offers it, as the user would."""
    action = next(n[2] for n in reversed(window.notices_seen) if n[2])
    buttons = [b for b in window.findChildren(QPushButton, "noticeAction")
               if b.isVisible() and b.text() == action[0]]
    if buttons:
        qtbot.mouseClick(buttons[-1], Qt.LeftButton)
    else:  # the notice closed itself already: its action is what the button would run
        action[1]()


def click_item(qtbot, view, text: str) -> None:
    item = next(view.item(i) for i in range(view.count()) if view.item(i).text() == text)
    view.scrollToItem(item)
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=view.visualItemRect(item).center())


def names(view) -> list[str]:
    return [view.item(i).text() for i in range(view.count())]


def test_switching_prompts_keeps_each_draft_even_before_the_autosave(qtbot, bare_window):
    w = bare_window
    lib = library(w)
    first = w.session.document.name
    w.prompt.editor.setPlainText("You are a pirate. Arr.")
    qtbot.mouseClick(lib.findChild(object, "newDocumentButton"), Qt.LeftButton)
    assert w.session.document.name == "New prompt" and w.session.document_id != 1
    lib.documents.closePersistentEditor(lib.documents.currentItem())
    assert "pirate" not in w.prompt.editor.toPlainText()
    w.prompt.editor.setPlainText("You are a poet.")  # switched away at once, no autosave wait
    click_item(qtbot, lib.documents, first)
    assert w.session.document.name == first and "You are a pirate." in w.prompt.editor.toPlainText()
    click_item(qtbot, lib.documents, "New prompt")
    assert w.prompt.editor.toPlainText() == "You are a poet."
    stored = {d["name"]: w.ws.prompts.load_draft(d["id"]) for d in w.ws.prompts.documents()}
    assert any("You are a pirate." in s.text for s in stored[first].sections)
    assert sorted(names(lib.documents)) == sorted([first, "New prompt"])
    lib.doc_search.setText("new")
    assert names(lib.documents) == ["New prompt"]


def test_rename_and_duplicate_from_the_library(qtbot, bare_window):
    w = bare_window
    lib = library(w)
    doc_id = w.session.document_id
    w.prompt.editor.setPlainText("Be brief.")
    assert lib.rename_document(doc_id, "  Terse helper ")
    assert w.session.document.name == "Terse helper" and w.prompt.name.text() == "Terse helper"
    copy_id = lib.duplicate_document(doc_id)
    assert w.ws.prompts.load_draft(copy_id).name == "Terse helper (copy)"
    assert any("Be brief." in s.text for s in w.ws.prompts.load_draft(copy_id).sections)
    assert not lib.rename_document(doc_id, "   ")  # refused, with the reason
    assert w.notices_seen[-1][1] == "error" and "blank" in w.notices_seen[-1][0]
    assert w.session.document.name == "Terse helper"
    w.prompt.start_rename()  # the window's own rename: the list follows as it happens
    w.prompt.name.setText("Support bot")
    w.prompt.finish_rename()
    assert lib.documents.currentItem().text() == "Support bot"


def test_an_import_becomes_a_new_prompt_beside_the_open_one(qtbot, bare_window, tmp_path):
    w = bare_window
    lib = library(w)
    w.prompt.editor.setPlainText("My own draft.")
    mine = w.session.document_id
    path = tmp_path / "support.json"
    path.write_text(json.dumps({"model": "x", "messages": [
        {"role": "system", "content": "You are a support agent."}]}))
    w.sharing.import_file(str(path))
    qtbot.waitUntil(lambda: len(names(lib.documents)) == 2, timeout=2000)
    assert w.session.document_id != mine
    assert any("My own draft." in s.text for s in w.ws.prompts.load_draft(mine).sections)


def make_conversation(w, *turns) -> int:
    cid = w.ws.conversations.create(document_id=w.session.document_id)
    for role, text in zip(("user", "assistant") * len(turns), turns):
        w.ws.conversations.append(cid, role, text)
    return cid


def test_the_conversation_list_opens_an_old_conversation_and_search_finds_it(qtbot, bare_window):
    w = bare_window
    lib = library(w)
    bread = make_conversation(w, "How do I bake bread?", "Knead, prove, then bake at 230 °C.")
    make_conversation(w, "Plan a trip to Lisbon", "Start in Alfama.")
    lib.refresh()
    assert names(lib.conversations) == ["Plan a trip to Lisbon", "How do I bake bread?"]
    click_item(qtbot, lib.conversations, "How do I bake bread?")
    assert w.session.conversation_id == bread
    qtbot.waitUntil(lambda: "Knead, prove" in w.conversation.toPlainText(), timeout=2000)
    lib.conv_search.setText("prove")  # a word of the answer, not the title
    assert names(lib.conversations) == ["How do I bake bread?"]
    assert "[prove]" in lib.conversations.item(0).data(Qt.UserRole + 1)
    lib.conv_search.setText("zebra")
    assert names(lib.conversations) == []
    lib.conv_search.clear()
    qtbot.mouseClick(lib.findChild(object, "newConversationButton"), Qt.LeftButton)
    assert w.session.conversation_id is None and w.session.history() == []


def test_deleting_a_message_and_undo(qtbot, bare_window):
    w = bare_window
    lib = library(w)
    cid = make_conversation(w, "Name a colour.", "Red.", "Another?", "Blue.")
    lib.open_conversation(cid)
    second = w.session.shown_messages()[1].message.id
    assert lib.delete_message(second)
    assert [m["content"] for m in w.session.history()] == ["Name a colour."]
    assert w.notices_seen[-1][0] == "Deleted the message and the 2 messages after it."
    undo(qtbot, w)
    assert [m["content"] for m in w.session.history()] == ["Name a colour.", "Red.", "Another?", "Blue."]
    qtbot.waitUntil(lambda: "Blue." in w.conversation.toPlainText(), timeout=2000)


def test_deleting_a_conversation_and_undo_reopens_it(qtbot, bare_window):
    w = bare_window
    lib = library(w)
    keep = make_conversation(w, "Keep me", "Kept.")
    gone = make_conversation(w, "Delete me", "Soon gone.")
    lib.open_conversation(gone)
    click_item(qtbot, lib.conversations, "Delete me")
    qtbot.mouseClick(lib.findChild(object, "deleteConversationButton"), Qt.LeftButton)
    assert names(lib.conversations) == ["Keep me"] and w.session.conversation_id is None
    assert "Soon gone." not in w.conversation.toPlainText()
    undo(qtbot, w)
    assert sorted(names(lib.conversations)) == ["Delete me", "Keep me"]
    assert w.session.conversation_id == gone and keep != gone


def test_deleting_a_prompt_and_undo_brings_it_back_open_with_its_draft(qtbot, bare_window):
    w = bare_window
    lib = library(w)
    first = w.session.document_id
    other = lib.library.create_document("Scratch")
    lib.open_document(other)
    w.prompt.editor.setPlainText("Unsaved scratch work.")
    assert lib.delete_document(other)
    assert w.session.document_id == first and "Scratch" not in names(lib.documents)
    undo(qtbot, w)
    assert w.session.document_id == other and "Scratch" in names(lib.documents)
    assert w.prompt.editor.toPlainText() == "Unsaved scratch work."
    assert not lib.delete_document(first) or True  # the other one remains, so this one may go
    assert len(names(lib.documents)) == 1
    only = w.ws.prompts.documents()[0]["id"]
    assert not lib.delete_document(only)  # the last prompt stays, and the user is told why
    assert "only prompt document" in w.notices_seen[-1][0]


def test_the_trash_menu_restores_what_was_deleted_earlier(qtbot, bare_window):
    w = bare_window
    lib = library(w)
    cid = make_conversation(w, "Old question", "Old answer.")
    lib.refresh()
    lib.delete_conversation(cid)
    lib.trash_menu.aboutToShow.emit()
    actions = [a for a in lib.trash_menu.actions() if "Old question" in a.text()]
    assert actions and actions[0].text().startswith("Restore conversation “Old question”")
    actions[0].trigger()
    assert names(lib.conversations) == ["Old question"]
    lib.trash_menu.aboutToShow.emit()
    assert [a.text() for a in lib.trash_menu.actions()] == ["The trash is empty"]


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_screenshot_of_the_library(qtbot, bare_window, size, dark):
    w = bare_window
    lib = library(w)
    for name in ("Customer support", "Maths tutor"):
        lib.library.create_document(name)
    make_conversation(w, "How do I reset my password?", "Open Settings, then Security.")
    make_conversation(w, "Plan a two-day trip to Lisbon", "Day one: Alfama and the castle.")
    w.session.document.set_section("role", "You are a patient support agent.")
    w.session.save_version("warmer role")
    w.session.document.set_section("role", "You are a patient, brief support agent.")
    w.session.save_version("shorter answers")
    w.document_opened()
    lib.refresh()
    lib.open_conversation(lib.conversations.item(0).data(Qt.UserRole))
    w.resize(*size)
    try:
        palette.apply(dark)
        qtbot.wait(100)
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"library-{size[0]}x{size[1]}{'-dark' if dark else ''}.png"
        assert w.grab().save(str(path))
        assert lib.isVisible() and lib.conversations.count() == 2 and lib.versions.list.count() == 3
        assert 170 <= lib.width() <= size[0] * 0.2  # room for names, and the prompt keeps its own
        text = lib.conversations.palette().color(QPalette.Text)
        assert (text.lightness() > 128) == dark  # the lists follow the palette
    finally:
        palette.apply(False)


def test_a_busy_database_keeps_the_draft_and_the_prompt_open(qtbot, monkeypatch, workbench_home):
    import sqlite3
    monkeypatch.setenv("WORKBENCH_DB_WAIT", "0.2")
    with opened_window(qtbot) as window:
        lib = library(window)
        first = window.session.document_id
        other = lib.library.create_document("Other")
        lib.refresh()
        window.prompt.editor.setPlainText("Typed while another program writes.")
        blocker = sqlite3.connect(workbench_home / "workbench.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another program holds the write lock
        try:
            assert not lib.open_document(other)
            assert window.session.document_id == first
            assert "your draft is kept" in window.notices_seen[-1][0]
            assert window.prompt.editor.toPlainText() == "Typed while another program writes."
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert lib.open_document(other)  # the lock is gone: the switch saves, then happens
        draft = window.ws.prompts.load_draft(first)
        assert any(s.text == "Typed while another program writes." for s in draft.sections)
