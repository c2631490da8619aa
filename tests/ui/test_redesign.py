"""The redesigned window (issue 13), offscreen with pytest-qt: it fits a laptop, the editor has the
room, candidates sit in a grid with their actions in view, focus stays safe, the vote runs only when
asked, notices and dark mode, the clean default prompt, and the desktop check before Qt starts."""

from functools import partial
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt, QUrl
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QDockWidget, QMenu

from tests.ui.conftest import send as send_and_wait
from tests.ui.conftest import settle
from workbench.app import XCB_LIBRARIES, desktop_problem
from workbench.chat.markdown import render_markdown
from workbench.runtime.params import RunStats
from workbench.ui import palette
from workbench.workspace import Workspace

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
send = partial(send_and_wait, timeout=120_000)  # three candidates on a busy machine
STATS = RunStats(prompt_tokens=120, completion_tokens=40, reused_tokens=0, time_to_first_token_s=0.1,
                 decode_tokens_per_s=80.0, finish_reason="stop")
LAPTOP = (1366, 768)
DESKTOP = (1920, 1080)


@pytest.fixture
def window_factory(window_factory):
    """The shared factory, but this module's windows start at laptop size in the light theme."""
    return lambda load_model=False, size=LAPTOP, theme="light": window_factory(load_model, size, theme)


def rect_in(window, widget) -> QRect:
    return QRect(widget.mapTo(window, widget.rect().topLeft()), widget.size())


def fully_visible(window, widget) -> bool:
    """On screen in the window, not cut by a scroll area or a neighbour."""
    return (widget.isVisible() and window.rect().contains(rect_in(window, widget))
            and widget.visibleRegion().boundingRect().size() == widget.size())


def fake_candidates(qtbot, w, texts):
    """Cards on screen as a finished run leaves them, without a model (layout and voting)."""
    w.outputs.start([f"Candidate {i + 1}" for i in range(len(texts))])
    for card, text in zip(w.outputs.cards, texts):
        card.append(text)
        card.finish(STATS)
    settle(qtbot)


# -- layout ------------------------------------------------------------------------------


def test_the_window_fits_a_laptop_and_the_editor_gets_the_room(qtbot, window_factory):
    w = window_factory(size=LAPTOP)
    assert w.minimumSize().width() <= 1280 and w.minimumSize().height() <= 720
    hint = w.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 720, hint
    assert (w.width(), w.height()) == LAPTOP
    editor = w.prompt.editor
    assert editor.height() >= 0.4 * w.height(), (editor.height(), w.height())
    assert editor.height() > max(w.conversation.height() * 0.7, w.notebook.height())
    for widget in (editor, w.input, w.send_button, w.stop_button, w.regen_button, w.compare,
                   w.sampling.samples, w.vote_switch, w.prompt.budget, w.prompt.name,
                   w.prompt.sections, *w.prompt.page_buttons, w.prompt.insert_button):
        assert fully_visible(w, widget), widget.objectName() or widget
    # The cache status sits under the editor, in the window.
    status = rect_in(w, w.cache_status)
    assert status.top() >= rect_in(w, editor).bottom() and w.rect().contains(status.topLeft())
    # Nothing clips: the page buttons and tabs show their whole labels.
    for b in w.prompt.page_buttons:
        assert b.width() >= b.fontMetrics().horizontalAdvance(b.text()), b.text()
    w.prompt.show_page(2)
    settle(qtbot)
    bar = w.prompt.tabs.tabBar()
    for i in range(bar.count()):
        assert bar.tabRect(i).width() >= bar.fontMetrics().horizontalAdvance(bar.tabText(i)), bar.tabText(i)
    # The composed prompt opens in the same column, under the editor, which keeps most of it.
    assert w.prompt.tabs.isVisible() and rect_in(w, w.prompt.tabs).top() > rect_in(w, editor).bottom()
    assert editor.height() > w.prompt.tabs.height()
    w.prompt.hide_pages()
    assert not w.prompt.tabs.isVisible()


def test_at_its_smallest_the_window_draws_no_widget_over_another(qtbot, window_factory):
    w = window_factory(size=LAPTOP)
    w.model_dock.raise_()  # as a user left it; the Model panel is the widest dock content
    w.resize(600, 400)  # smaller than it allows: it stops at its minimum
    settle(qtbot)
    assert w.width() <= 1280 and w.height() <= 720 and w.size() == w.minimumSize()
    panes = {"prompt": (w.prompt, [*w.prompt.page_buttons, w.prompt.budget, w.prompt.rename_button,
                                   w.prompt.insert_button]),
             "chat": (w.chat, [w.send_button, w.stop_button, w.regen_button, w.input]),
             "candidates": (w.right, [w.compare, w.sampling.samples, w.vote_switch])}
    areas = {name: rect_in(w, pane) for name, (pane, _) in panes.items()}
    for name, (pane, widgets) in panes.items():
        for widget in widgets:
            r = rect_in(w, widget)
            assert areas[name].contains(r), (name, widget.objectName() or widget.text())
            assert widget.width() >= widget.minimumSizeHint().width(), widget.objectName()
    assert not areas["prompt"].intersects(areas["chat"]) and not areas["chat"].intersects(areas["candidates"])


def test_a_big_screen_gives_the_panes_more_room(qtbot, window_factory):
    w = window_factory(size=DESKTOP)
    assert w.prompt.editor.height() >= 0.45 * w.height()
    assert w.prompt.editor.width() >= 500 and w.outputs.width() >= 2 * w.outputs.MIN_CARD_WIDTH


def test_docks_close_and_reopen_from_the_view_menu_with_shortcuts(qtbot, window_factory):
    w = window_factory()
    menu = w.findChild(QMenu, "viewMenu")
    assert menu is not None and menu is w.view_menu
    docks = {"library": w.library_dock, "notebook": w.notebook_dock, "model": w.model_dock,
             "sampling": w.sampling_dock, "evaluate": w.eval_dock, "runLog": w.run_log_dock}
    for name, dock in docks.items():
        assert dock.features() & QDockWidget.DockWidgetClosable, name
        assert w.view_actions[name] in menu.actions() and not w.view_actions[name].shortcut().isEmpty()
    assert not w.eval_dock.isVisible()  # evaluating opens when asked: it does not take the room
    editor_before = w.prompt.editor.height()
    w.notebook_dock.close()
    for dock in (w.model_dock, w.sampling_dock, w.run_log_dock):
        dock.close()
    settle(qtbot)
    assert w.prompt.editor.height() > editor_before  # the editor gets the room back
    qtbot.keyClick(w, Qt.Key_2, Qt.ControlModifier)  # View > Notebook
    settle(qtbot)
    assert w.notebook_dock.isVisible() and w.view_actions["notebook"].isChecked()
    w.view_actions["evaluate"].trigger()
    settle(qtbot)
    assert w.eval_dock.isVisible()
    w.reset_layout()
    settle(qtbot)
    assert all(d.isVisible() for n, d in docks.items() if n != "evaluate") and not w.eval_dock.isVisible()


# -- candidates ----------------------------------------------------------------------------


def test_three_candidates_show_every_action_at_1366x768(qtbot, open_window):
    w = open_window(size=LAPTOP)
    w.sampling.temperature.setValue(0.8)
    w.sampling.max_tokens.setValue(120)
    send(qtbot, w, "Describe three things to see in Rome, with a sentence on each.", samples=3)
    settle(qtbot)
    cards = w.outputs.cards
    assert len(cards) == 3 and all(c.text.strip() for c in cards)
    for card in cards:
        for b in (card.accept_button, card.good, card.bad, card.copy, card.teach_button):
            assert fully_visible(w, b), (card.label, b.text(), rect_in(w, b), w.rect())
            assert b.isEnabled()
    assert not w.outputs.scroll.verticalScrollBar().isVisible()  # no scrolling needed to reach them
    assert not w.outputs.scroll.horizontalScrollBar().isVisible()
    # A long answer scrolls inside its card, not the grid.
    long = max(cards, key=lambda c: c.body.document().size().height())
    if long.body.document().size().height() > long.body.viewport().height():
        assert long.body.verticalScrollBar().maximum() > 0


def test_four_to_eight_candidates_wrap_into_rows(qtbot, window_factory):
    w = window_factory(size=DESKTOP)
    for n in (4, 6, 8):
        fake_candidates(qtbot, w, [f"Answer {i}" for i in range(n)])
        tops = sorted({c.geometry().top() for c in w.outputs.cards})
        lefts = {c.geometry().left() for c in w.outputs.cards}
        assert len(tops) >= 2 and len(lefts) >= 2, (n, tops, lefts)  # a grid: rows and columns
        assert not w.outputs.scroll.horizontalScrollBar().isVisible()
        for card in w.outputs.cards:
            assert card.width() >= w.outputs.MIN_CARD_WIDTH - 20


def test_copy_says_what_it_copied(qtbot, window_factory):
    from PySide6.QtWidgets import QPushButton

    from workbench.ui.layout import COPIED_MS
    w = window_factory()
    fake_candidates(qtbot, w, ["Paris is the capital.", "Lyon."])
    qtbot.mouseClick(w.outputs.cards[1].copy, Qt.LeftButton)
    assert QGuiApplication.clipboard().text() == "Lyon."
    assert w.statusBar().currentMessage() == "Copied Candidate 2's answer (5 characters)."
    dialog = w.sharing.show_export()  # a dialog may cover the status bar: its button says so
    copy = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Copy")
    qtbot.mouseClick(copy, Qt.LeftButton)
    assert copy.text() == "Copied ✓" and QGuiApplication.clipboard().text() == dialog.preview.toPlainText()
    qtbot.waitUntil(lambda: copy.text() == "Copy", timeout=COPIED_MS + 2000)
    dialog.close()


def test_the_previous_candidates_stay_and_come_back(qtbot, open_window):
    w = open_window()
    send(qtbot, w, "What is the capital of France?")
    first = w.outputs.cards[0].text
    assert not w.right.back.isVisible()
    w.input.setPlainText("What is the capital of Italy?")
    w.recompose()
    assert w.outputs.cards[0].text == first  # typing the next question keeps them
    send(qtbot, w, "What is the capital of Italy?")
    assert w.session.pending.user_text == "What is the capital of Italy?" and w.right.back.isVisible()
    qtbot.mouseClick(w.right.back, Qt.LeftButton)
    assert w.outputs.cards[0].text == first and w.session.pending.user_text == "What is the capital of France?"
    qtbot.mouseClick(w.outputs.cards[0].accept_button, Qt.LeftButton)
    path = w.ws.conversations.path(w.session.conversation_id)
    assert [m.content for m in path] == ["What is the capital of France?", first.strip()]
    assert not w.outputs.cards and not w.right.back.isVisible()


def test_live_speed_shows_while_a_card_streams(qtbot, open_window):
    w = open_window()
    w.sampling.max_tokens.setValue(200)
    w.input.setPlainText("Write a short story about a lighthouse.")
    seen = []
    w.worker.token.connect(lambda i, piece: seen.append(w.outputs.cards[0].status.text()))
    qtbot.mouseClick(w.send_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: any("tok/s" in s and "generating" in s for s in seen) or not w.generating,
                    timeout=60_000)
    qtbot.waitUntil(lambda: not w.generating, timeout=60_000)
    assert any("generating…" in s and "tok/s" in s for s in seen), seen[-5:]
    assert w.status_speed.text() and "tok/s" in w.outputs.cards[0].status.text()


# -- focus ------------------------------------------------------------------------------


def test_focus_starts_in_the_message_box_and_typing_after_accept_never_renames(qtbot, open_window):
    w = open_window()
    name = w.session.document.name
    assert QApplication.focusWidget() is w.input
    qtbot.keyClicks(QApplication.focusWidget(), "Say hello.")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_Return, Qt.ControlModifier)
    assert QApplication.focusWidget() is w.input  # after Send
    qtbot.waitUntil(lambda: not w.generating, timeout=60_000)
    qtbot.mouseClick(w.outputs.cards[0].accept_button, Qt.LeftButton)
    qtbot.keyClicks(QApplication.focusWidget(), "Thanks")  # what the user types next
    assert w.input.toPlainText() == "Thanks"
    assert w.prompt.name.text() == name and w.session.document.name == name
    qtbot.mouseClick(w.regen_button, Qt.LeftButton)
    assert QApplication.focusWidget() is w.input  # after Regenerate
    qtbot.waitUntil(lambda: not w.generating, timeout=60_000)
    qtbot.keyClicks(QApplication.focusWidget(), " a lot")
    assert w.input.toPlainText() == "Thanks a lot"
    w.save_draft()
    assert Workspace.open().prompts.load_draft(w.session.document_id).name == name


def test_the_name_changes_only_through_rename(qtbot, window_factory):
    w = window_factory()
    name = w.prompt.name
    assert name.isReadOnly() and name.focusPolicy() == Qt.NoFocus
    qtbot.mouseClick(name, Qt.LeftButton)
    assert QApplication.focusWidget() is not name  # a click does not make it editable
    qtbot.mouseClick(w.prompt.rename_button, Qt.LeftButton)
    assert QApplication.focusWidget() is name and not name.isReadOnly()
    name.selectAll()
    qtbot.keyClicks(name, "Support bot")
    qtbot.keyClick(name, Qt.Key_Return)
    assert w.session.document.name == "Support bot" and name.isReadOnly()
    w.save_draft()
    assert Workspace.open().prompts.load_draft(w.session.document_id).name == "Support bot"


# -- voting -----------------------------------------------------------------------------


def test_voting_is_off_by_default_and_counts_only_real_answers(qtbot, window_factory):
    w = window_factory()
    assert not w.vote_switch.isChecked()
    fake_candidates(qtbot, w, ["3 + 4 = 7", "It is 7.", "12", "The answer is 7."])
    w.generation.mark_votes()
    assert all("answer:" not in c.title.text() and "majority" not in c.title.text() for c in w.outputs.cards)
    assert not w.right.tally.isVisible()
    w.vote_switch.setChecked(True)
    w.generation.mark_votes()
    titles = [c.title.text() for c in w.outputs.cards]
    assert all("★ majority" in t for i, t in enumerate(titles) if i != 2) and "★" not in titles[2]
    assert w.right.tally.isVisible() and "7 ×3 · 12 ×1" in w.right.tally.text()
    # Dates, times and ordinals are not answers, and prose has none: no mark at all.
    fake_candidates(qtbot, w, ["The meeting is on 2026-11-23.", "It is on 2026-11-23, at 10:30.",
                               "The 23rd, I think: 2026-11-23."])
    w.generation.mark_votes()
    for card in w.outputs.cards:
        assert "★" not in card.title.text() and "-23" not in card.title.text(), card.title.text()
    prose = ("Rome rewards slow walks: start at the Colosseum, cross the Forum, climb the Capitoline "
             "and end the day in Trastevere within 8 hours.")
    fake_candidates(qtbot, w, [prose, prose.replace("Rome", "The city"), prose.replace("slow", "long")])
    w.generation.mark_votes()
    assert all("★" not in c.title.text() for c in w.outputs.cards)
    assert "Final answers" not in w.right.tally.text() or not w.right.tally.isVisible()


# -- feedback -----------------------------------------------------------------------------


def test_notices_have_their_colours_close_and_offer_an_action(qtbot, window_factory):
    w = window_factory()
    undone = []
    ok = w.notify("Lesson #3 saved.", "success")
    warn = w.notify("The model is busy.", "warning")
    err = w.notify("The file was not imported.", "error", ("Undo", lambda: undone.append(1)))
    settle(qtbot)
    for notice in (ok, warn, err):
        assert fully_visible(w, notice)
    colours = {}
    for notice in (ok, warn, err):
        image = notice.grab().toImage()
        colours[notice.kind] = image.pixelColor(4, image.height() // 2)
    g, a, r = colours["success"], colours["warning"], colours["error"]
    assert g.green() > g.red() and g.green() > g.blue()  # green
    assert a.red() > a.blue() + 30 and a.green() > a.blue() + 20  # amber
    assert r.red() > r.green() + 10 and r.red() > r.blue() + 10  # red
    assert ok.timer.isActive() and not warn.timer.isActive() and not err.timer.isActive()  # success hides
    qtbot.mouseClick(err.action_button, Qt.LeftButton)
    assert undone == [1] and [n.kind for n in w.notices.visible()] == ["success", "warning"]
    qtbot.mouseClick(warn.close_button, Qt.LeftButton)
    assert [n.kind for n in w.notices.visible()] == ["success"]
    ok.timer.start(10)
    qtbot.waitUntil(lambda: not w.notices.visible(), timeout=2000)
    # The error banner can be closed too, and says nothing about command-line flags.
    w.show_error("broken.json is not JSON (Expecting value) Pass --format.")
    assert w.banner.isVisible() and "--format" not in w.banner.text()
    qtbot.mouseClick(w.banner.close_button, Qt.LeftButton)
    assert not w.banner.isVisible()


def test_a_refused_reflection_is_explained_in_plain_words(qtbot, window_factory):
    w = window_factory()
    fake_candidates(qtbot, w, ["Hello."])
    card = w.outputs.cards[0]
    reply = '{"lessons": [{"rule": "Hi", "reason": "x"}]}'
    w.learning._json_ready({"kind": "reflect", "run_id": None, "card": card,
                            "situation": "The user said hello."}, reply)
    shown = [n.text() for n in w.notices.visible()]
    assert shown and "Not used: “Hi” (it " in shown[-1] and "near-empty" not in shown[-1], shown
    assert w.notices.visible()[-1].kind == "warning"


def test_a_reflected_proposal_is_a_green_notice_that_opens_the_proposals(qtbot, window_factory):
    w = window_factory()
    fake_candidates(qtbot, w, ["Hello."])
    w.notebook.tabs.setCurrentIndex(0)
    w.model_dock.raise_()
    reply = '{"lessons": [{"rule": "When greeting someone, ask how their day is going.", "reason": "cold"}]}'
    w.learning._json_ready({"kind": "reflect", "run_id": None, "card": w.outputs.cards[0],
                            "situation": "The user said hello."}, reply)
    notice = w.notices.visible()[-1]
    assert notice.kind == "success" and "Proposals" in notice.text()
    w.notebook.tabs.setCurrentIndex(0)
    qtbot.mouseClick(notice.action_button, Qt.LeftButton)
    assert w.notebook.tabs.currentIndex() == 1 and w.notebook.proposal_list.topLevelItemCount() == 1
    assert not w.notebook.visibleRegion().isEmpty()


# -- progress -----------------------------------------------------------------------------


def test_loading_and_prompt_progress_show_percentages_speed_and_time_left(qtbot, window_factory):
    w = window_factory()
    w.generation.load_model("nowhere.gguf", w.model_panel.options())
    w.worker.loadProgress.emit(0.45)
    assert "45%" in w.status_model.text() and w.model_panel.progress.value() == 45
    assert w.prompt_progress.isVisible() and w.prompt_progress.value() == 45
    qtbot.waitUntil(w.banner.isVisible, timeout=10_000)  # the file is not there: said, and the bar goes
    assert not w.prompt_progress.isVisible()
    w.status_speed.setText("84 tok/s · old run")
    w.generation.busy = True  # as a run in flight
    w.generation._prompt_started.clear()
    w.worker.promptProgress.emit(0, 0, 3500)
    qtbot.wait(120)
    w.worker.promptProgress.emit(0, 1750, 3500)
    text = w.prompt_progress.format()
    assert text.startswith("Prompt 50%") and "tok/s" in text and "s left" in text, text
    w.generation.busy = False


def test_a_new_run_clears_the_last_runs_figures(qtbot, open_window):
    w = open_window()
    send(qtbot, w, "Hi")
    assert "tok/s" in w.status_speed.text()
    w.input.setPlainText("Hello again")
    w.send()
    assert w.status_speed.text() == ""
    qtbot.waitUntil(lambda: not w.generating, timeout=60_000)


# -- colours --------------------------------------------------------------------------------


def test_dark_mode_switches_every_custom_colour(qtbot, window_factory):
    w = window_factory(theme="system")
    # With no dark scheme from the desktop (offscreen reports none), "system" is light.
    assert w.theme == "system" and palette.is_dark() == palette.system_prefers_dark()

    def pixel(widget):
        img = widget.grab().toImage()
        return img.pixelColor(img.width() // 2, img.height() // 2)
    light_input, light_bar = pixel(w.input), w.prompt.budget.grab().toImage()
    assert pixel(w.input).lightness() > 200
    qtbot.keyClick(w, Qt.Key_D, Qt.ControlModifier | Qt.ShiftModifier)  # View > Dark mode
    settle(qtbot)
    assert palette.is_dark() and w.dark_action.isChecked() and w.settings.value("theme") == "dark"
    assert pixel(w.input).lightness() < 80, pixel(w.input).name()
    assert palette.c("budget_free") == palette.DARK["budget_free"]
    assert w.prompt.budget.grab().toImage() != light_bar  # the hand-painted bar follows
    assert palette.DARK["user_bg"] in w.conversation.toHtml().upper() or "No messages" in w.conversation.toPlainText()
    fake_candidates(qtbot, w, ["```python\nprint('hi')\n```"])
    html = w.outputs.cards[0].body.toHtml()
    assert "#0d1117" in html.lower() or "#161b22" in html.lower(), html[:400]  # github-dark code
    w.apply_theme("light")
    settle(qtbot)
    assert not palette.is_dark() and pixel(w.input).lightness() > 200
    assert light_input.lightness() > 200


def test_a_window_opened_in_dark_mode_is_dark_from_its_first_paint(qtbot, window_factory):
    from workbench.app import window_settings
    settings = window_settings()
    settings.setValue("theme", "dark")  # as the last session left it
    settings.sync()
    w = window_factory(theme=None)  # the theme the settings keep
    assert w.theme == "dark" and palette.is_dark() and w.dark_action.isChecked()
    img = w.input.grab().toImage()
    assert img.pixelColor(img.width() // 2, img.height() // 2).lightness() < 80
    bar = w.prompt.budget.grab().toImage()  # painted by hand, with the colours it was made with
    colours = {bar.pixelColor(x, y).name().upper() for x in range(0, bar.width(), 2) for y in range(bar.height())}
    assert palette.DARK["budget_free"] in colours and palette.LIGHT["budget_free"] not in colours
    assert palette.DARK["window"].lower() in QApplication.instance().styleSheet().lower()


def test_a_ticked_box_shows_a_tick_in_both_schemes(qtbot, window_factory):
    from PySide6.QtGui import QImage
    window_factory()  # a window, so the style sheet is on an application
    for dark in (False, True):
        palette.apply(dark)
        checked = QApplication.instance().styleSheet().split("::indicator:checked", 1)[1].split("}", 1)[0]
        path = checked.split('image: url("', 1)[1].split('")', 1)[0]
        assert not QImage(path).isNull(), path  # Qt can draw it: a styled indicator has no tick of its own
    palette.apply(False)


def test_every_custom_colour_comes_from_the_palette():
    import re
    ui = Path(__file__).resolve().parents[2] / "workbench" / "ui"
    mine = ["main_window.py", "panes.py", "prompt_panel.py", "outputs_view.py", "conversation_view.py",
            "generation.py", "learning.py", "notebook_panel.py", "model_panel.py", "sampling_panel.py",
            "budget_bar.py", "style.py", "layout.py", "safe_browser.py", "teach_dialog.py", "notice.py"]
    for name in mine:
        text = (ui / name).read_text()
        assert not re.search(r"#[0-9A-Fa-f]{6}\b", text), name
    assert set(palette.LIGHT) == set(palette.DARK)


# -- the prompt -------------------------------------------------------------------------------


def test_a_new_document_starts_clean_and_offers_the_variables(qtbot, window_factory):
    w = window_factory()
    doc = w.session.document
    assert [s.text for s in doc.sections] == [""] * len(doc.sections)
    assert w.prompt.editor.toPlainText() == "" and "Who the model is" in w.prompt.editor.placeholderText()
    w.prompt.sections.setCurrentRow(1)  # current information
    assert "{{date}}" in w.prompt.editor.placeholderText()
    w.recompose()
    assert w.prompt.preview.toPlainText().strip() == ""  # no date, no model name in the prompt
    w.prompt._fill_variable_menu()
    labels = [a.text() for a in w.prompt.variable_menu.actions()]
    assert any(t.startswith("{{date}}") for t in labels) and any(t.startswith("{{model}}") for t in labels)
    w.prompt.editor.setPlainText("Today is ")
    w.prompt.editor.moveCursor(w.prompt.editor.textCursor().MoveOperation.End)
    next(a for a in w.prompt.variable_menu.actions() if a.text().startswith("{{date}}")).trigger()
    assert w.prompt.editor.toPlainText() == "Today is {{date}}"
    w.recompose()
    import datetime
    assert datetime.date.today().isoformat() in w.prompt.preview.toPlainText()


def test_add_variable_puts_the_cursor_in_the_new_row(qtbot, window_factory):
    w = window_factory()
    w.prompt.show_page(2)
    settle(qtbot)
    add = next(b for b in w.prompt.tabs.widget(2).findChildren(type(w.prompt.insert_button))
               if "Add variable" in b.text())
    qtbot.mouseClick(add, Qt.LeftButton)
    table = w.prompt.variables
    assert table.rowCount() == 1 and table.currentRow() == 0
    qtbot.keyClicks(QApplication.focusWidget(), "audience")  # straight into the name cell
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_Return)
    qtbot.waitUntil(lambda: table.item(0, 0).text() == "audience", timeout=1000)  # a queued commit
    table.item(0, 1).setText("teachers")
    assert w.session.document.variables == {"audience": "teachers"}


def test_lesson_rows_are_one_line_tall(qtbot, window_factory):
    w = window_factory()
    w.notebook.text.setText("When the user asks for a list, number it.")
    w.notebook.add()
    settle(qtbot)
    item = w.notebook.list.topLevelItem(0)
    height = w.notebook.list.visualItemRect(item).height()
    assert height <= 2 * w.notebook.list.fontMetrics().height(), height


def test_code_blocks_and_messages_can_be_copied(qtbot, window_factory):
    w = window_factory()
    code = "\n".join(f'print("line {i}")' for i in range(90))  # long: shown in pieces
    fake_candidates(qtbot, w, [f"Here:\n\n```python\n{code}\n```\n"])
    body = w.outputs.cards[0].body
    html = body.toHtml()
    assert "Copy code" in body.toPlainText() and "#007020" in html.lower()  # highlighted (pygments)
    key = render_markdown(f"```python\n{code}\n```\n").split("wb:copy-code/")[1].split('"')[0]
    body._clicked(QUrl(f"wb:copy-code/{key}"))
    assert QGuiApplication.clipboard().text().strip() == code  # the whole block, not one piece
    qtbot.mouseClick(w.outputs.cards[0].copy, Qt.LeftButton)
    assert QGuiApplication.clipboard().text().startswith("Here:")
    w.session.append_turn("What is 2+2?", "It is 4.")
    w.show_conversation()
    assert "copy" in w.conversation.toPlainText()
    answer = w.ws.conversations.path(w.session.conversation_id)[-1]
    w.conversation.action.emit("copy", str(answer.id))
    assert QGuiApplication.clipboard().text() == "It is 4."


# -- desktop prerequisites ----------------------------------------------------------------------


def test_a_missing_system_library_is_named_in_one_line():
    def load(name):
        if name == "libxcb-cursor.so.0":
            raise OSError(f"{name}: cannot open shared object file")
    problem = desktop_problem({"DISPLAY": ":0"}, load=load, platform="linux")
    assert problem and "\n" not in problem and "libxcb-cursor0" in problem and "apt install" in problem
    assert desktop_problem({}, platform="linux").startswith("No display")
    assert desktop_problem({"QT_QPA_PLATFORM": "offscreen"}, platform="linux") is None
    assert desktop_problem({"DISPLAY": ":0"}, platform="darwin") is None
    # This machine has what Qt needs (the tests run Qt): nothing to report.
    assert desktop_problem({"DISPLAY": ":0"}, platform="linux") is None, XCB_LIBRARIES


def test_workbench_run_without_a_display_says_so_in_one_line(tmp_path):
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "workbench", "run"], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "No display" in lines[0] and "QT_QPA_PLATFORM=offscreen" in lines[0]


def test_deleting_a_message_can_be_undone_from_the_notice(qtbot, window_factory):
    w = window_factory()
    w.session.append_turn("What is 2+2?", "It is 4.")
    w.session.append_turn("And 3+3?", "It is 6.")
    w.show_conversation()
    question = w.ws.conversations.path(w.session.conversation_id)[2]
    w.conversation.action.emit("delete", str(question.id))  # the "delete" link
    assert "And 3+3?" not in w.conversation.toPlainText() and "It is 4." in w.conversation.toPlainText()
    notice = w.notices.visible()[-1]
    assert notice.action_button is not None and notice.action_button.text() == "Undo"
    qtbot.mouseClick(notice.action_button, Qt.LeftButton)
    assert "And 3+3?" in w.conversation.toPlainText() and "It is 6." in w.conversation.toPlainText()
    assert [m.content for m in w.ws.conversations.path(w.session.conversation_id)][-1] == "It is 6."
