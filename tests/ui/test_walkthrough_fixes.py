"""What a new user hit in the real window (walkthrough of 2026-12-01), offscreen with pytest-qt: an
import opens the prompt as the library does, an Undo notice closes once its prompt or conversation
is left, View shortcuts bring a dock behind a tab to the front, buttons show their whole labels
while editing, and the message being typed survives a quit, a kill and a switch of conversation."""

import json
import signal
import subprocess
import sys
import textwrap

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QTabBar

from tests.ui.conftest import settle
from workbench.app import build, shutdown
from workbench.ui.main_window import AUTOSAVE_MS
from workbench.ui.notice import Notice
from workbench.ui.panes import in_front
from workbench.workspace import Workspace

LAPTOP = (1366, 768)
DESKTOP = (1920, 1080)


@pytest.fixture
def window_factory(window_factory):
    """The shared factory at laptop size in the light theme."""
    return lambda load_model=False, size=LAPTOP, theme="light": window_factory(load_model, size, theme)


def library(w):
    return w.library_dock.widget()


def conversation_with(w, *texts) -> int:
    """A stored conversation of the open prompt with these turns (user, assistant, …)."""
    cid = w.ws.conversations.create(document_id=w.session.document_id)
    for role, text in zip(("user", "assistant") * len(texts), texts):
        w.ws.conversations.append(cid, role, text)
    return cid


def undo_notices(w) -> list[Notice]:
    return [n for n in w.notices.visible() if n.action_button is not None]


def open_conversation(qtbot, w, cid: int) -> None:
    assert library(w).open_conversation(cid)
    qtbot.waitUntil(lambda: w.session.conversation_id == cid, timeout=2000)
    settle(qtbot)


# -- 1. an import opens the prompt as the library does ----------------------------------------


def test_an_import_opens_the_new_prompt_without_the_old_conversation(qtbot, window_factory, tmp_path):
    w = window_factory()
    old = conversation_with(w, "How do I soft-boil an egg?", "Simmer it for six minutes.")
    open_conversation(qtbot, w, old)
    assert "soft-boil" in w.conversation.toPlainText()
    assert w.prompt.budget.parts["conversation"] > 0
    path = tmp_path / "prompt.json"
    path.write_text(json.dumps({"model": "x", "messages": [
        {"role": "system", "content": "You are a concise geography tutor."}]}))
    w.sharing.import_file(str(path))
    settle(qtbot)
    s = w.session
    assert s.document.name and "geography tutor" in w.prompt.editor.toPlainText()
    # The imported prompt has no conversation yet: a new one is open, nothing of the old one shows.
    assert s.conversation_id is None and s.history() == []
    assert "soft-boil" not in w.conversation.toPlainText()
    assert w.prompt.budget.parts["conversation"] == 0
    lib = library(w)
    assert lib.conversations.count() == 0
    assert lib.documents.currentItem().data(Qt.UserRole) == s.document_id
    # Going back to the first prompt opens its conversation again, as the library always does.
    first = next(lib.documents.item(i).data(Qt.UserRole) for i in range(lib.documents.count())
                 if lib.documents.item(i).data(Qt.UserRole) != s.document_id)
    assert lib.open_document(first)
    assert w.session.conversation_id == old and "soft-boil" in w.conversation.toPlainText()


# -- 2. an Undo notice is about what is on screen ---------------------------------------------


def test_the_undo_of_a_restored_version_closes_when_another_prompt_opens(qtbot, window_factory):
    w = window_factory()
    lib = library(w)
    a = w.session.document_id
    w.prompt.editor.setPlainText("Version one of prompt A.")
    w.save_draft()
    w.save_version("first")
    number = w.ws.prompts.latest(a).number
    w.prompt.editor.setPlainText("Prompt A, edited after version one.")
    w.save_draft()
    assert lib.versions.restore_into_draft(number)
    [notice] = undo_notices(w)
    assert f"Version {number} is now the draft" in notice.text()
    b = lib.new_document()
    assert b is not None and w.session.document_id == b
    w.prompt.editor.setPlainText("Prompt B's own words.")
    w.save_draft()
    qtbot.waitUntil(lambda: not undo_notices(w), timeout=2000)  # its prompt is no longer on screen
    assert not shiboken6.isValid(notice) or not notice.isVisible()
    # Neither prompt was changed by leaving: A keeps the restored version, B its own text.
    assert any("Version one of prompt A." in s.text for s in w.ws.prompts.load_draft(a).sections)
    assert "Prompt B's own words." in w.prompt.editor.toPlainText()


def test_undo_notices_for_deletions_close_when_the_conversation_or_prompt_changes(qtbot, window_factory):
    w = window_factory()
    lib = library(w)
    first = conversation_with(w, "What is the capital of France?", "Paris.")
    second = conversation_with(w, "And of Japan?", "Tokyo.")
    open_conversation(qtbot, w, first)
    question = w.session.shown_messages()[0].message.id
    w.delete_message(question)
    [notice] = undo_notices(w)
    assert notice.action_button.text() == "Undo"
    w.show_conversation()
    settle(qtbot)
    assert undo_notices(w) == [notice]  # redrawing the same conversation keeps it
    open_conversation(qtbot, w, second)
    qtbot.waitUntil(lambda: not undo_notices(w), timeout=2000)
    assert w.ws.conversations.path(first) == []  # still deleted: the Trash has it

    # A deleted conversation: its Undo goes once another prompt is open, and the Undo itself
    # never opens a conversation of another prompt in this one.
    assert lib.delete_conversation(second)
    [notice] = undo_notices(w)
    trash = next(e["id"] for e in lib.library.trash() if e["kind"] == "conversation")
    other = lib.new_document()
    qtbot.waitUntil(lambda: not undo_notices(w), timeout=2000)
    assert lib.restore(trash, True)  # as a stale Undo would
    assert w.session.document_id == other and w.session.conversation_id is None
    assert "Tokyo" not in w.conversation.toPlainText()
    assert [m.content for m in w.ws.conversations.path(second)] == ["And of Japan?", "Tokyo."]

    # A deleted prompt: the notice comes with the prompt the window switched to, and stays.
    assert lib.delete_document(other)
    settle(qtbot)
    [notice] = undo_notices(w)
    qtbot.mouseClick(notice.action_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: w.session.document_id == other, timeout=2000)


# -- 3. View shortcuts and docks behind tabs --------------------------------------------------


def dock_tabs(w) -> list[str]:
    bar = next(b for b in w.findChildren(QTabBar) if b.parent() is w
               and "Run log" in [b.tabText(i) for i in range(b.count())])
    return [bar.tabText(i) for i in range(bar.count())]


def test_a_view_shortcut_brings_a_dock_behind_a_tab_to_the_front(qtbot, window_factory):
    w = window_factory()
    dock, action = w.run_log_dock, w.view_actions["runLog"]
    w.view_actions["evaluate"].trigger()  # Evaluate in front, the run log a tab behind it
    qtbot.waitUntil(lambda: in_front(w.eval_dock), timeout=5000)
    assert not in_front(dock) and not dock.isHidden() and action.isChecked()
    order = dock_tabs(w)
    qtbot.keyClick(w, Qt.Key_6, Qt.ControlModifier)
    qtbot.waitUntil(lambda: in_front(dock), timeout=2000)
    settle(qtbot)
    assert in_front(dock) and action.isChecked() and dock.built
    qtbot.keyClick(w, Qt.Key_6, Qt.ControlModifier)  # in front: now it closes
    settle(qtbot)
    assert dock.isHidden() and not action.isChecked()
    qtbot.keyClick(w, Qt.Key_6, Qt.ControlModifier)  # closed: it opens in front, in its place
    qtbot.waitUntil(lambda: in_front(dock), timeout=2000)
    settle(qtbot)
    assert action.isChecked() and dock_tabs(w) == order
    # The same for a dock made at start: Sampling behind the run log comes forward, keeps its tab.
    assert not in_front(w.sampling_dock)
    qtbot.keyClick(w, Qt.Key_4, Qt.ControlModifier)
    qtbot.waitUntil(lambda: in_front(w.sampling_dock), timeout=2000)
    assert not w.sampling_dock.isHidden() and dock_tabs(w) == order


# -- 4. whole button labels while editing -----------------------------------------------------


def clipped_buttons(w) -> list[str]:
    """The conversation pane's visible buttons narrower than their labels need."""
    return [f"{b.text()!r}: {b.width()} < {b.sizeHint().width()}"
            for b in w.chat.findChildren(QAbstractButton)
            if b.isVisible() and (b.width() < b.sizeHint().width()
                                  or b.width() < b.fontMetrics().horizontalAdvance(b.text()))]


@pytest.mark.parametrize("size", [LAPTOP, DESKTOP])
def test_buttons_show_their_whole_labels_while_editing_or_branching(qtbot, window_factory, size):
    w = window_factory(size=size)
    cid = conversation_with(w, "How do I soft-boil an egg?", "Simmer the egg for 6 minutes.")
    open_conversation(qtbot, w, cid)
    answer = w.session.shown_messages()[1].message.id
    for narrow in (False, True):
        if narrow:  # the conversation pane as narrow as the window lets it be
            sizes = w.splitter.sizes()
            w.splitter.setSizes([sizes[0] + sizes[1], 0, sizes[2]])
            settle(qtbot)
            assert w.chat.width() <= w.chat.minimumWidth() + 2
        for action, label in (("edit", "Save edit"), ("branch", "Save as new branch")):
            w._conversation_action(action, str(answer))
            settle(qtbot)
            assert w.send_button.text() == label and w.chat.cancel_edit.isVisible()
            assert clipped_buttons(w) == [], (size, narrow, action)
            assert w.chat.mode_label.isVisible()
            qtbot.mouseClick(w.chat.cancel_edit, Qt.LeftButton)
            settle(qtbot)
            assert w.send_button.text() == "Send" and w.regen_button.isVisible()
            assert clipped_buttons(w) == [], (size, narrow, "sending")


# -- 5. the message being typed is kept ---------------------------------------------------------


def typed(qtbot, w, text: str) -> None:
    w.input.setFocus()
    qtbot.keyClicks(w.input, text)


def stored_unsent(key: str) -> str:
    """What another connection reads, as a restarted window would."""
    rows = list(Workspace.open().db["settings"].rows_where("key = ?", [key]))
    return rows[0]["value"] if rows else ""


def message_box_after_restart(qtbot) -> str:
    """What a newly opened window's message box holds."""
    window, thread = build(load_model=False)
    qtbot.addWidget(window)
    try:
        window.show()
        return window.input.toPlainText()
    finally:
        shutdown(window, thread)


def test_the_message_being_typed_comes_back_after_a_quit(qtbot):
    window, thread = build(load_model=False)
    qtbot.addWidget(window)
    window.show()
    typed(qtbot, window, "Half a question")
    window.close()  # at once: the close saves it without waiting for the autosave
    shutdown(window, thread)
    assert message_box_after_restart(qtbot) == "Half a question"


KILLED = textwrap.dedent("""
    import os, signal, sys, time
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from workbench.app import build
    app = QApplication(sys.argv[:1])
    window, thread = build(load_model=False)
    window.show()
    window.input.setFocus()
    QTest.keyClicks(window.input, sys.argv[1])
    deadline = time.time() + float(sys.argv[2])
    while time.time() < deadline:
        app.processEvents()
        time.sleep(0.01)
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no clean-up
""")


def test_the_message_being_typed_survives_a_kill(qtbot):
    # Killed a second after the typing stopped: the autosave (0.4 s) has written it.
    proc = subprocess.run([sys.executable, "-c", KILLED, "Typed before the crash", str(AUTOSAVE_MS / 1000 + 0.6)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert message_box_after_restart(qtbot) == "Typed before the crash"


def test_each_conversation_keeps_its_own_unsent_message(qtbot, window_factory):
    w = window_factory()
    lib = library(w)
    first = conversation_with(w, "What is the capital of France?", "Paris.")
    second = conversation_with(w, "And of Japan?", "Tokyo.")
    open_conversation(qtbot, w, first)
    typed(qtbot, w, "And of Spain?")
    open_conversation(qtbot, w, second)  # at once, before the autosave
    assert w.input.toPlainText() == ""
    typed(qtbot, w, "And of Peru?")
    qtbot.waitUntil(lambda: stored_unsent(f"unsent:conversation:{second}") == "And of Peru?", timeout=3000)
    open_conversation(qtbot, w, first)
    assert w.input.toPlainText() == "And of Spain?"
    # A new conversation has its own, kept per prompt until it has an id.
    qtbot.mouseClick(lib.findChild(QAbstractButton, "newConversationButton"), Qt.LeftButton)
    assert w.input.toPlainText() == ""
    typed(qtbot, w, "A fresh start")
    other = lib.new_document()  # another prompt: the new conversation's text stays with this one
    assert other is not None and w.input.toPlainText() == ""
    # Editing a message borrows the box; cancelling gives back what was being typed.
    typed(qtbot, w, "Draft for the other prompt")
    cid = conversation_with(w, "Hello?", "Hi.")
    open_conversation(qtbot, w, cid)
    typed(qtbot, w, "Unsent words")
    w._conversation_action("edit", str(w.session.shown_messages()[0].message.id))
    assert w.input.toPlainText() == "Hello?"
    qtbot.mouseClick(w.chat.cancel_edit, Qt.LeftButton)
    assert w.input.toPlainText() == "Unsent words"
    w.new_conversation()
    assert w.input.toPlainText() == "Draft for the other prompt"
    assert library(w).open_document(next(d["id"] for d in lib.library.documents() if d["id"] != other))
    lib.open_conversation(None)
    assert w.input.toPlainText() == "A fresh start"


def unsent_rows() -> list[dict]:
    return list(Workspace.open().db["settings"].rows_where("key like 'unsent:%'"))


def ask(qtbot, w, question: str) -> None:
    w.sampling.max_tokens.setValue(8)
    typed(qtbot, w, question)
    qtbot.mouseClick(w.send_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.generating, timeout=120_000)


@pytest.mark.model
def test_a_sent_message_is_cleared_once_its_answer_is_accepted(qtbot, open_window):
    w = open_window()
    ask(qtbot, w, "What is the capital of France?")
    # Answered but not accepted: the question is not in the conversation yet, so it is kept,
    # with the conversation its first run stored.
    cid = w.session.conversation_id
    assert cid is not None and w.session.history() == []
    assert stored_unsent(f"unsent:conversation:{cid}") == "What is the capital of France?"
    typed(qtbot, w, " Briefly.")
    qtbot.waitUntil(lambda: stored_unsent(f"unsent:conversation:{cid}").endswith("Briefly."), timeout=3000)
    w.accept(0)
    assert w.input.toPlainText() == ""
    assert w.session.history()[0]["content"] == "What is the capital of France?"
    assert unsent_rows() == []  # nothing comes back after a restart, for this or a new conversation


@pytest.mark.model
def test_a_question_answered_but_not_accepted_is_back_after_a_restart(qtbot, open_window):
    w = open_window()
    ask(qtbot, w, "What is the capital of Japan?")
    cid = w.session.conversation_id
    w.close()
    window, thread = build(load_model=False)
    qtbot.addWidget(window)
    try:
        window.show()
        assert window.session.conversation_id == cid
        assert window.input.toPlainText() == "What is the capital of Japan?"
    finally:
        shutdown(window, thread)


def test_the_candidates_say_which_question_they_answer(qtbot, open_window):
    from tests.ui.conftest import send
    w = open_window()
    w.sampling.max_tokens.setValue(6)
    send(qtbot, w, "What is the capital of France?")
    assert w.right.question.text() == "Answering: What is the capital of France?"
    w.accept(0)
    assert w.right.question.text() == ""  # accepted: no candidates, nothing answered
    w.input.setPlainText("And of Spain?")  # typed, not sent: Regenerate still answers the last one
    qtbot.mouseClick(w.regen_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.generating, timeout=60_000)
    assert w.right.question.text() == "Answering: What is the capital of France?"
    assert w.right.question.isVisible() and w.input.toPlainText() == "And of Spain?"


def test_the_notebooks_success_line_goes_by_itself_and_a_warning_stays(qtbot, window_factory, monkeypatch):
    from workbench.ui import notice
    monkeypatch.setitem(notice.AUTO_HIDE_MS, "success", 150)
    w = window_factory()
    nb = w.notebook
    nb.text.setText("When the user asks for a list, number it.")
    qtbot.mouseClick(nb.add_button, Qt.LeftButton)
    assert nb.message.isVisible() and "Added lesson #1" in nb.message.text()
    qtbot.waitUntil(lambda: not nb.message.isVisible(), timeout=3000)
    nb.text.setText("When the user asks for a list, number it!")
    qtbot.mouseClick(nb.add_button, Qt.LeftButton)  # a near duplicate: a question for the user
    qtbot.wait(400)
    assert nb.message.isVisible() and "Nearly the same" in nb.message.text() and nb.merge_button.isVisible()
