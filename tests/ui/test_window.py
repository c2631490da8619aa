"""The real window with the real SmolLM2 model and a real SQLite file (pytest-qt, offscreen)."""

import html
import re
import time
from collections import Counter
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QPlainTextEdit, QPushButton

from tests.ui.conftest import send
from tests.ui.test_versions import fill_note_dialog
from workbench.chat.consistency import vote
from workbench.notebook.reflection import rule_problem
from workbench.workspace import Workspace

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def test_object_names_for_scripts(open_bare_window):
    w = open_bare_window()
    for name, kind in (("systemPromptEditor", QPlainTextEdit), ("messageInput", QPlainTextEdit),
                       ("sendButton", QPushButton), ("stopButton", QPushButton)):
        assert isinstance(w.findChild(kind, name), kind), name
    for name in ("conversationView", "outputsView", "notebookPanel", "modelPanel", "budgetBar"):
        assert w.findChild(object, name) is not None, name


def test_prompt_send_stream_accept_and_log(qtbot, open_window):
    w = open_window()
    w.prompt.editor.setPlainText("You are a helpful geography tutor. Answer in one sentence.")
    qtbot.waitUntil(lambda: "geography tutor" in w.prompt.preview.toPlainText(), timeout=2000)
    tokens = []
    w.worker.token.connect(lambda i, piece: tokens.append(piece))
    send(qtbot, w, "What is the capital of France?")
    card = w.outputs.cards[0]
    assert len(tokens) > 1  # streamed piece by piece
    assert "".join(tokens) == card.text  # what streamed is what the card holds
    assert "paris" in card.text.lower() and card.text.strip() in card.body.toPlainText()
    assert "tok/s" in card.status.text()
    qtbot.mouseClick(card.accept_button, Qt.LeftButton)
    view = w.conversation.toPlainText()
    assert "What is the capital of France?" in view and card.text.strip() in view
    ws = Workspace.open()
    run = ws.runs.recent()[0]
    assert "geography tutor" in run["rendered_prompt"] and run["output"] == card.text.strip()


def test_two_candidates_side_by_side_and_rating(qtbot, open_window):
    w = open_window()
    w.sampling.temperature.setValue(0.9)
    send(qtbot, w, "Name a fruit.", samples=2)
    cards = w.outputs.cards
    assert len(cards) == 2 and all(c.text for c in cards)
    assert cards[0].geometry().top() == cards[1].geometry().top()  # side by side
    qtbot.mouseClick(cards[1].bad, Qt.LeftButton)
    cards[1].comment.setText("too vague")
    cards[1].comment.editingFinished.emit()
    run = Workspace.open().runs.get(cards[1].run_id)
    assert run["rating"] == -1 and run["comment"] == "too vague"


def test_stop_a_long_generation(qtbot, open_window):
    w = open_window()
    w.sampling.max_tokens.setValue(2000)
    w.sampling.samples.setValue(2)
    w.input.setPlainText("Write a very long story about a dragon and a knight.")
    qtbot.mouseClick(w.send_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: w.outputs.cards and len(w.outputs.cards[0].text) > 20, timeout=30_000)
    assert w.stop_button.isEnabled()
    clicked = time.perf_counter()
    qtbot.keyClick(w, Qt.Key_Escape)
    qtbot.waitUntil(lambda: not w.generating, timeout=5_000)
    assert time.perf_counter() - clicked < 0.5
    assert "stopped" in w.outputs.cards[0].status.text()
    assert w.outputs.cards[1].text == ""  # the second candidate never started
    assert w.send_button.isEnabled() and not w.stop_button.isEnabled()


def test_lesson_add_search_pin_preview(qtbot, open_bare_window):
    w = open_bare_window()
    nb = w.notebook
    nb.text.setText("When the user asks for a list, number it.")
    nb.tags.setText("format")
    qtbot.mouseClick(nb.add_button, Qt.LeftButton)
    assert "Added lesson #1" in nb.message.text()
    nb.text.setText("When the user asks for a list, number it!")
    qtbot.mouseClick(nb.add_button, Qt.LeftButton)
    assert "Nearly the same as lesson #1" in nb.message.text() and nb.merge_button.isVisible()
    qtbot.keyClick(w, Qt.Key_F, Qt.ControlModifier)
    assert nb.search.hasFocus()
    qtbot.keyClicks(nb.search, "numb")
    assert nb.list.topLevelItemCount() == 1
    assert "<b" in nb.list.topLevelItem(0).text(1)  # highlighted
    nb.list.setCurrentItem(nb.list.topLevelItem(0))
    qtbot.mouseClick(nb.pin_button, Qt.LeftButton)
    assert "- When the user asks for a list, number it." in w.prompt.preview.toPlainText()
    assert nb.list.topLevelItem(0).text(5) == "pinned"


def test_branch_and_switch(qtbot, open_window):
    w = open_window()
    send(qtbot, w, "Say hello.")
    qtbot.mouseClick(w.outputs.cards[0].accept_button, Qt.LeftButton)
    answer = w.ws.conversations.path(w.session.conversation_id)[-1]
    w.conversation.action.emit("branch", str(answer.id))  # the "branch" link
    assert w.send_button.text() == "Save as new branch"
    w.input.setPlainText("Ahoy there!")
    qtbot.mouseClick(w.send_button, Qt.LeftButton)
    assert "Ahoy there!" in w.conversation.toPlainText() and "2/2" in w.conversation.toPlainText()
    w.conversation.action.emit("switch", str(answer.id))
    assert "1/2" in w.conversation.toPlainText() and "Ahoy there!" not in w.conversation.toPlainText()


def test_restart_restores_state(qtbot, open_window):
    w = open_window()
    w.prompt.editor.setPlainText("You are a pirate.")
    send(qtbot, w, "Hi!")
    qtbot.mouseClick(w.outputs.cards[0].accept_button, Qt.LeftButton)
    w.splitter.setSizes([300, 700, 600])
    sizes = w.splitter.sizes()
    fill_note_dialog("a pirate")  # Ctrl+S asks what changed
    qtbot.keyClick(w, Qt.Key_S, Qt.ControlModifier)
    w.close()
    again = open_window()
    assert again.prompt.editor.toPlainText() == "You are a pirate."
    assert "Hi!" in again.conversation.toPlainText()
    assert again.splitter.sizes() == sizes
    assert again.model_panel.models.currentData().endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert [v.number for v in again.ws.prompts.versions(again.session.document_id)] == [1, 2]
    # The sampling settings belong to the document and survive the restart too.
    assert again.session.document.params["max_tokens"] == 40


def test_sampling_settings_survive_a_restart(qtbot, open_bare_window):
    w = open_bare_window()
    w.sampling.top_k.setValue(17)
    w.sampling.stop.setText("###, END")
    w.sampling.stop.editingFinished.emit()
    w.close()
    again = open_bare_window()
    assert again.sampling.top_k.value() == 17 and again.sampling.stop.text() == "###, END"


def test_draft_autosaves_within_a_second_without_closing(qtbot, open_bare_window):
    w = open_bare_window()
    with qtbot.waitSignal(w.autosave_timer.timeout, timeout=1000):  # no close, no Ctrl+S
        w.prompt.editor.setPlainText("Typed just now.")
    # Read back through another connection, as if the process were killed here.
    assert Workspace.open().prompts.load_draft(w.session.document_id).section("role").text == "Typed just now."


def test_budget_bar_follows_typing(qtbot, open_window):
    w = open_window()
    before = w.prompt.budget.parts["conversation"]
    w.input.setPlainText("A question with quite a few words in it to count. " * 5)
    qtbot.waitUntil(lambda: w.prompt.budget.parts["conversation"] > before + 20, timeout=2000)


def test_missing_model_is_a_message_in_the_window(qtbot, open_bare_window, tmp_path):
    w = open_bare_window()
    w.generation.load_model(str(tmp_path / "gone.gguf"), w.model_panel.options())
    qtbot.waitUntil(w.banner.isVisible, timeout=10_000)
    assert "Model file not found" in w.banner.text() and "Model panel" in w.banner.text()
    w.input.setPlainText("hello")
    qtbot.mouseClick(w.send_button, Qt.LeftButton)
    assert "No model is loaded" in w.banner.text()


def test_screenshot(qtbot, open_window):
    w = open_window()
    for text in ("When the user asks for a list, number it.",
                 "When you give a distance, use kilometres."):
        w.notebook.text.setText(text)
        w.notebook.add()
    w.notebook.list.setCurrentItem(w.notebook.list.topLevelItem(0))
    w.notebook.toggle_pin()
    w.prompt.editor.setPlainText("You are a concise travel assistant.")
    send(qtbot, w, "What is the capital of Italy?")
    answer = w.outputs.cards[0].text.strip()
    qtbot.mouseClick(w.outputs.cards[0].accept_button, Qt.LeftButton)
    w.sampling.temperature.setValue(0.8)
    send(qtbot, w, "Give me three things to see in Rome, as a list.", samples=2)
    # What the picture is meant to show: a pinned lesson in the prompt, an accepted answer
    # in the conversation and two finished candidates side by side.
    assert "- When the user asks for a list, number it." in w.prompt.preview.toPlainText()
    assert "rome" in answer.lower() and answer in w.conversation.toPlainText()
    cards = w.outputs.cards
    assert len(cards) == 2 and all(c.isVisible() and c.text.strip() and "tok/s" in c.status.text()
                                   for c in cards)
    assert cards[0].geometry().top() == cards[1].geometry().top()
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "main_window.png"
    grabbed = w.grab().toImage()
    assert grabbed.save(str(path))
    saved = QImage(str(path))
    assert saved.size() == grabbed.size()
    # The window was painted, not left blank: a grid of samples finds many colours.
    colours = {saved.pixel(x, y) for x in range(0, saved.width(), 16) for y in range(0, saved.height(), 16)}
    assert len(colours) >= 20, len(colours)


def test_draft_against_a_saved_version(qtbot, open_window):
    w = open_window()
    w.prompt.editor.setPlainText("Always answer in French.")
    fill_note_dialog("")  # saved without a note
    qtbot.keyClick(w, Qt.Key_S, Qt.ControlModifier)  # version 2
    w.prompt.editor.setPlainText("Always answer in English, in capital letters.")
    w.compare.setCurrentIndex(w.compare.findData(2))
    send(qtbot, w, "Say good morning.")
    cards = w.outputs.cards
    assert [c.title.text() for c in cards] == ["<b>Current draft</b>", "<b>Version 2</b>"]
    runs = {r["id"]: r for r in Workspace.open().runs.recent()}
    draft, old = runs[cards[0].run_id], runs[cards[1].run_id]
    assert "capital letters" in draft["rendered_prompt"] and draft["version_id"] is None
    assert "French" in old["rendered_prompt"]
    assert old["version_id"] == w.ws.prompts.version(w.session.document_id, 2).id


def test_regenerate_makes_a_new_branch_of_the_answer(qtbot, open_window):
    w = open_window()
    send(qtbot, w, "Name a colour.")
    first = w.outputs.cards[0].text
    qtbot.mouseClick(w.outputs.cards[0].accept_button, Qt.LeftButton)
    w.sampling.temperature.setValue(1.2)
    w.sampling.seed.setValue(99)
    qtbot.mouseClick(w.regen_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.generating, timeout=60_000)
    qtbot.mouseClick(w.outputs.cards[0].accept_button, Qt.LeftButton)
    path = w.ws.conversations.path(w.session.conversation_id)
    assert [m.role for m in path] == ["user", "assistant"]
    assert len(w.ws.conversations.siblings(path[-1].id)) == 2
    assert "2/2" in w.conversation.toPlainText()
    w.conversation.action.emit("switch", str(w.ws.conversations.siblings(path[-1].id)[0]))
    assert w.ws.conversations.path(w.session.conversation_id)[-1].content == first


def test_keyboard_send_and_new_conversation(qtbot, open_window):
    w = open_window()
    w.input.setPlainText("Hello!")
    w.input.setFocus()
    qtbot.keyClick(w.input, Qt.Key_Return, Qt.ControlModifier)
    assert w.generating or w.outputs.cards
    qtbot.waitUntil(lambda: not w.generating, timeout=60_000)
    qtbot.mouseClick(w.outputs.cards[0].accept_button, Qt.LeftButton)
    old = w.session.conversation_id
    qtbot.keyClick(w, Qt.Key_N, Qt.ControlModifier)
    assert w.session.conversation_id != old and "No messages yet" in w.conversation.toPlainText()


def test_slow_prompt_shows_progress(qtbot, open_window):
    w = open_window()
    # The bar shows when the first token is later than the timer's interval (1 s). A fast
    # CPU may get through these ~5,000 tokens in less, so the test sets 50 ms, which no CPU
    # can beat.
    w.generation.slow_prompt.setInterval(50)
    w.prompt.editor.setPlainText(" ".join(f"Rule {i}: be precise and kind." for i in range(500)))
    w.input.setPlainText("Hi")
    with qtbot.waitSignal(w.generation.slow_prompt.timeout, timeout=5_000):
        qtbot.mouseClick(w.send_button, Qt.LeftButton)
    assert w.prompt_progress.isVisible() and w.generating
    w.generation.stop()
    qtbot.waitUntil(lambda: not w.generating, timeout=5_000)
    assert not w.prompt_progress.isVisible()


def test_context_full_is_a_message(qtbot, open_window):
    w = open_window()
    w.model_panel.ctx.setValue(512)
    w.model_panel.request_load()
    qtbot.waitUntil(lambda: w.model_ready and w.engine.n_ctx == 512, timeout=30_000)
    w.input.setPlainText("word " * 600)
    qtbot.mouseClick(w.send_button, Qt.LeftButton)
    assert "context is full" in w.banner.text() and not w.generating


def test_output_browser_loads_nothing_by_itself(qtbot, tmp_path):
    from workbench.chat.markdown import render_markdown
    from workbench.ui.safe_browser import SafeBrowser
    picture = tmp_path / "secret.png"
    red = QImage(40, 40, QImage.Format_RGB32)
    red.fill(QColor("#FF0000"))
    red.save(str(picture))
    asked, given = [], []

    class Recording(SafeBrowser):
        def loadResource(self, kind, url):
            asked.append(url.toString())
            result = super().loadResource(kind, url)
            given.append(result)
            return result

    b = Recording()
    qtbot.addWidget(b)
    b.resize(400, 300)
    b.show()
    b.setHtml(render_markdown(f"![a]({picture.as_uri()}) ![b](http://127.0.0.1:9/x.png)"))
    # Qt did try to fetch both images...
    qtbot.waitUntil(lambda: {picture.as_uri(), "http://127.0.0.1:9/x.png"} <= set(asked), timeout=2000)
    # ...and got nothing: an empty image (None would let QTextDocument read the file itself).
    assert given and all(g is None or g.isNull() for g in given)
    for _ in range(5):
        QApplication.processEvents()
    shot = b.grab().toImage()
    reds = [(x, y) for x in range(0, shot.width(), 2) for y in range(0, shot.height(), 2)
            if shot.pixelColor(x, y).red() > 200 and shot.pixelColor(x, y).green() < 60]
    assert not reds, f"the local picture was drawn at {reds[:3]}"


def test_base_model_in_the_window_uses_urial_and_marks_the_majority(qtbot, open_window, base_model_path):
    w = open_window()
    w.model_panel.select(str(base_model_path))
    w.model_panel.request_load()
    qtbot.waitUntil(lambda: w.model_ready and w.engine.info.kind == "base", timeout=30_000)
    assert "urial" in w.model_panel.mode_reason.text() and "no chat template" in w.model_panel.mode_reason.text()
    assert "urial mode" in w.status_model.text()
    w.input.setPlainText("What is 3 + 4?")
    qtbot.waitUntil(lambda: "What is 3 + 4?" in w.prompt.seen.toPlainText(), timeout=2000)
    seen = w.prompt.seen.toPlainText()
    assert seen.startswith("<bos>") and seen.endswith("# Answer:\n```\n")
    assert "tokens · urial mode" in w.prompt.seen_info.text()
    w.sampling.temperature.setValue(0.7)
    w.sampling.seed.setValue(11)
    assert not w.vote_switch.isChecked()  # voting only when asked
    w.vote_switch.setChecked(True)
    send(qtbot, w, "What is 3 + 4?", samples=5)
    # Sampled at 0.7 the five answers differ from CPU to CPU: what holds everywhere is that
    # each card shows its own final answer and the stars go to the most common one.
    cards = w.outputs.cards
    result = vote([c.text for c in cards])
    print("sampled final answers:", result.answers, "winner:", result.winner)
    assert len(cards) == 5 and all(c.text.strip() for c in cards)
    found = Counter(a for a in result.answers if a)
    assert result.winner == "" or found[result.winner] == max(found.values())
    if not any(result.answers):  # nothing to vote on: no marks, and the tally says so
        assert all("answer:" not in c.title.text() for c in cards)
        assert "No final answers" in w.right.tally.text()
        result.answers = []
    else:
        assert w.right.tally.text() == f"Final answers: {result.tally()}"
    for card, answer in zip(cards, result.answers):
        title = card.title.text()
        assert f"answer: {html.escape(answer) if answer else '<i>none found</i>'}" in title, title
        starred = bool(result.winner) and answer == result.winner
        assert ("★ majority" in title) == starred, title
        assert not starred or f"({found[answer]}/5)" in title
    assert all("```" not in c.text and "# Query" not in c.text for c in cards)
    assert Workspace.open().runs.recent()[0]["mode"] == "urial"
    w.model_panel.mode.setCurrentText("chat")  # impossible for a base model: said, not crashed
    assert "no chat template" in w.model_panel.mode_reason.text()
    w.model_panel.mode.setCurrentText("raw")
    assert "raw mode" in w.prompt.seen_info.text() and w.prompt.seen.toPlainText() == "<bos>What is 3 + 4?"


def test_export_dialog_previews_live_and_saves(qtbot, open_window, tmp_path):
    import json as _json
    w = open_window()
    w.prompt.editor.setPlainText("You are a librarian.")
    dialog = w.sharing.show_export()
    dialog.select("openai")
    body = _json.loads(dialog.preview.toPlainText())
    assert body["messages"][0]["content"].startswith("You are a librarian.")
    w.prompt.editor.setPlainText("You are a gardener.")
    qtbot.waitUntil(lambda: "You are a gardener." in dialog.preview.toPlainText(), timeout=2000)
    dialog.select("anthropic")
    assert "prefill" not in dialog.notes.text()  # no conversation yet: nothing to flag
    assert _json.loads(dialog.preview.toPlainText())["system"].startswith("You are a gardener.")
    dialog.select("llamacpp-completion")
    assert "<|im_start|>system" in _json.loads(dialog.preview.toPlainText())["prompt"]
    out = tmp_path / "prompt.md"
    dialog.select("markdown")
    dialog.save(str(out))
    assert "You are a gardener." in out.read_text()


def test_drop_a_prompt_file_to_import_it(qtbot, open_bare_window, tmp_path):
    from PySide6.QtCore import QMimeData, QPoint, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication
    w = open_bare_window()
    f = tmp_path / "support.json"
    f.write_text('{"model": "gpt-x", "messages": [{"role": "system", "content": "You are Acme support."},'
                 '{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],'
                 '"temperature": 0.2}')
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(f))])
    # As a real drag does: the window must accept the drag before it gets the drop.
    enter = QDragEnterEvent(QPoint(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(w, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPoint(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(w, drop)
    assert w.prompt.editor.toPlainText() == "You are Acme support."
    assert w.prompt.examples.rowCount() == 1 and w.sampling.temperature.value() == 0.2
    assert "Imported support.json" in w.statusBar().currentMessage()
    bad = tmp_path / "broken.json"
    bad.write_text('{"messages": [{"role": "wizard", "content": "x"}]}')
    w.sharing.import_file(str(bad))
    assert "broken.json was not imported" in w.banner.text() and "messages[0].role" in w.banner.text()
    assert w.prompt.editor.toPlainText() == "You are Acme support."  # nothing lost


def test_teach_an_output_into_a_lesson_that_changes_the_next_answer(qtbot, open_window):
    w = open_window()
    w.sampling.max_tokens.setValue(60)
    w.sampling.repeat_penalty.setValue(1.0)
    send(qtbot, w, "How far is it from Paris to Berlin?")
    qtbot.mouseClick(w.outputs.cards[0].teach_button, Qt.LeftButton)
    dialog = w.learning.teach_dialog
    dialog.ideal.setPlainText("It is about 880 km from Paris to Berlin.")
    qtbot.mouseClick(dialog.propose, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.propose.isEnabled(), timeout=120_000)
    # What the 135M model proposes varies; either way the dialog must say what it got.
    print("teach:", dialog.status.text(), "|", dialog.rule.text())
    if dialog.status.text().startswith("Proposed ("):  # a usable rule, filled in to edit
        assert dialog.rule.text() and rule_problem(dialog.rule.text()) == ""
    else:
        assert dialog.status.text().startswith("The model proposed no usable rule (")
        assert dialog.rule.text() == "" and "Write it yourself." in dialog.status.text()
    dialog.rule.setText("When asked how far apart two cities are, give the distance in km.")
    qtbot.mouseClick(dialog.save, Qt.LeftButton)
    lesson = w.ws.notebook.pinned()[-1]
    assert lesson.demo_answer == "It is about 880 km from Paris to Berlin." and not dialog.isVisible()
    assert "give the distance in km" in w.prompt.preview.toPlainText()
    send(qtbot, w, "What is the distance between Vienna and Prague?")
    assert "km" in w.outputs.cards[0].text  # a different question of the same kind


def test_bad_rating_moves_tallies_and_offers_reflection(qtbot, open_window):
    w = open_window()
    w.ws.notebook.add("When the user says hello, mention the weather.", pinned=True)
    w.recompose()
    send(qtbot, w, "Hello!")
    qtbot.mouseClick(w.outputs.cards[0].bad, Qt.LeftButton)  # counted: the question is about it
    lesson = w.ws.notebook.pinned()[0]
    assert lesson.harmful == 1 and not lesson.flagged  # one bad answer is no evidence yet
    assert "⚑" not in w.notebook.list.topLevelItem(0).text(4)
    send(qtbot, w, "Hello again!")
    card = w.outputs.cards[0]
    assert not card.reflect_button.isVisible()
    qtbot.mouseClick(card.bad, Qt.LeftButton)
    assert card.reflect_button.isVisible()
    lesson = w.ws.notebook.pinned()[0]
    assert lesson.harmful == 2 and lesson.flagged
    assert "⚑" in w.notebook.list.topLevelItem(0).text(4)
    qtbot.mouseClick(card.reflect_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: "Reflection:" in w.notebook.message.text(), timeout=120_000)
    message = w.notebook.message.text()
    print("reflection:", message)
    found = re.search(r"Reflection: (\d+) proposals? wait", message)
    kept = int(found.group(1)) if found else 0
    assert len(w.proposals.pending()) == w.notebook.proposal_list.topLevelItemCount() == kept
    assert w.notebook.tabs.tabText(1) == (f"Proposals ({kept})" if kept else "Proposals")
    # The outcome is also a notice where the user looks: green with Review, or amber saying why.
    notice = w.notices.visible()[-1]
    assert notice.text() == message and notice.kind == ("success" if kept else "warning")
    assert "near-empty" not in message
    if not kept:  # nothing to review: the message says why
        assert "Not used:" in message or "The model" in message
    assert card.reflect_button.isEnabled() and card.reflect_button.text() == "Reflect"


def test_proposals_accept_reject_and_undo_in_the_panel(qtbot, open_bare_window):
    from workbench.notebook.reflection import Proposal
    w = open_bare_window()
    nb = w.notebook
    keep = w.proposals.add(Proposal("When asked for a recipe, list the ingredients first.", "r", "new"),
                           "rating")
    drop = w.proposals.add(Proposal("When asked for a recipe, skip the ingredients.", "r", "new"),
                           "rating")
    nb.refresh()
    assert nb.tabs.tabText(1) == "Proposals (2)"
    nb.proposal_list.setCurrentItem(nb.proposal_list.topLevelItem(1))
    qtbot.mouseClick(nb.findChild(QPushButton, "rejectProposalButton"), Qt.LeftButton)
    nb.proposal_list.setCurrentItem(nb.proposal_list.topLevelItem(0))
    nb.proposal_edit.setText("When asked for a recipe, list the ingredients before the steps.")
    nb.accept_proposal(edited=True)
    assert [l.text for l in w.ws.notebook.pinned()] == [
        "When asked for a recipe, list the ingredients before the steps."]
    assert "ingredients before the steps" in w.prompt.preview.toPlainText()
    assert nb.tabs.tabText(1) == "Proposals" and w.proposals.get(drop).status == "rejected"
    assert any("add" in nb.history.item(i).text() for i in range(nb.history.count()))
    qtbot.mouseClick(nb.findChild(QPushButton, "undoButton"), Qt.LeftButton)
    assert w.ws.notebook.pinned() == [] and "ingredients" not in w.prompt.preview.toPlainText()
    assert w.proposals.get(keep).status == "accepted"


def test_two_models_side_by_side(qtbot, open_window, base_model_path):
    w = open_window()
    i = w.compare.findData(str(base_model_path))
    assert i > 0 and "vs gemma-3-270m-q4_k_m.gguf" in w.compare.itemText(i)
    w.compare.setCurrentIndex(i)
    send(qtbot, w, "What is the capital of France?")
    chat, base = w.outputs.cards
    assert "Smollm2" in chat.title.text() and "gemma-3-270m-q4_k_m.gguf (urial)" in base.title.text()
    assert "paris" in base.text.lower() and "```" not in base.text
    runs = {r["id"]: r for r in Workspace.open().runs.recent()}
    assert runs[chat.run_id]["model_file"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert (runs[base.run_id]["model_file"], runs[base.run_id]["mode"]) == ("gemma-3-270m-q4_k_m.gguf", "urial")
    assert runs[base.run_id]["rendered_prompt"].startswith("<bos>")


def test_model_hash_is_made_off_the_window_thread_and_filled_in(qtbot, open_window, chat_model_path):
    import hashlib
    w = open_window()
    expected = hashlib.sha256(chat_model_path.read_bytes()).hexdigest()
    qtbot.waitUntil(lambda: w.ws.runs.cached_sha256(str(chat_model_path)) == expected, timeout=10_000)
    send(qtbot, w, "Hi")
    assert Workspace.open().runs.get(w.outputs.cards[0].run_id)["model_sha256"] == expected


def test_pinning_past_the_budget_demotes_the_least_helpful_and_says_so(qtbot, open_window):
    w = open_window()
    w.session.document.lesson_budget = 40
    nb = w.notebook
    for text in ("When asked about rivers, name the longest river first and then its length.",
                 "When asked about mountains, give the height in metres and the country.",
                 "When asked about birds, mention what they eat and where they nest."):
        nb.text.setText(text)
        nb.add()
    helpful = w.ws.notebook.lessons()[0]
    w.ws.notebook.tally([helpful.id], helpful=2)
    for i in range(3):
        nb.list.setCurrentItem(nb.list.topLevelItem(i))
        qtbot.mouseClick(nb.pin_button, Qt.LeftButton)
    pinned = {l.id for l in w.ws.notebook.pinned()}
    assert helpful.id in pinned and len(pinned) < 3
    assert "became retrieved-only" in nb.message.text()
    moved = [l for l in w.ws.notebook.lessons() if l.id not in pinned]
    assert all(l.status == "active" for l in moved)  # still used when relevant


def test_auto_accept_puts_reflected_lessons_straight_in(qtbot, open_window):
    w = open_window()
    send(qtbot, w, "Hello!")
    card = w.outputs.cards[0]
    w.notebook.auto_accept.setChecked(True)
    reply = ('{"lessons": [{"rule": "When greeting someone, ask how their day is going.", '
             '"reason": "the greeting was cold"}, {"rule": "Hi", "reason": "x"}]}')
    # The reply as the engine thread delivers it after a real reflection request.
    w.learning._json_ready({"kind": "reflect", "run_id": card.run_id, "card": card,
                            "situation": "The user said hello."}, reply)
    assert [l.text for l in w.ws.notebook.pinned()] == ["When greeting someone, ask how their day is going."]
    assert "Not used: “Hi” (it " in w.notebook.message.text()
    assert "added to the notebook" in w.notices.visible()[-1].text()
    assert "ask how their day is going" in w.prompt.preview.toPlainText()
    assert w.proposals.pending() == []
