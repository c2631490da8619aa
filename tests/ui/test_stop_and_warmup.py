"""What Stop leaves on the cards, and the warm-up left alone when there is nothing to prepare or the
prompt cannot be sent: the real window offscreen with the real SmolLM2 model (pytest-qt)."""

from PySide6.QtCore import Qt

from tests.ui.conftest import settle
from workbench.runtime.warmup import stable_prefix

ESSAY = "Write a long essay about the history of Rome, century by century."
RULE = "When the user asks about {t}, answer in one short sentence and name a source. "
TOPICS = ("rivers", "mountains", "cities", "birds", "stars")


def rules(n: int) -> str:
    return "".join(RULE.format(t=TOPICS[i % len(TOPICS)]) for i in range(n))


def press_send(qtbot, w, text: str, samples: int) -> None:
    w.sampling.samples.setValue(samples)
    w.input.setPlainText(text)
    qtbot.mouseClick(w.send_button, Qt.LeftButton)


def stop_and_wait(qtbot, w) -> None:
    qtbot.mouseClick(w.stop_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.generating, timeout=10_000)
    settle(qtbot)


def actions(card):
    return (card.accept_button, card.good, card.bad, card.teach_button, card.copy)


def warm_idle(w) -> bool:
    """The warm-up's pause is over and nothing is being warmed."""
    return not (w.cache_status.warm_timer.isActive() or w.cache_status.warming)


# -- Stop ----------------------------------------------------------------------------------


def test_stop_marks_the_partial_answer_and_the_candidates_never_run(qtbot, open_window):
    w = open_window()
    w.sampling.max_tokens.setValue(400)
    press_send(qtbot, w, ESSAY, samples=3)
    qtbot.waitUntil(lambda: len(w.outputs.cards) == 3 and len(w.outputs.cards[0].text) > 10,
                    timeout=60_000)
    stop_and_wait(qtbot, w)
    first, *rest = w.outputs.cards
    # The stopped answer says so at the start of its line (which elides at its end) and stays
    # acceptable, marked partial on the button itself.
    assert first.status.text().startswith("Partial: stopped after "), first.status.text()
    assert first.outcome.partial and first.accept_button.text() == "Accept partial"
    assert all(b.isEnabled() for b in actions(first))
    for card in rest:  # their turn never came: no "waiting…" for good, nothing to take
        assert card.status.text() == "Not run: stopped" and card.text == ""
        assert not any(b.isEnabled() for b in actions(card)), card.label
    partial = first.text
    qtbot.mouseClick(first.accept_button, Qt.LeftButton)
    assert w.session.history()[-1] == {"role": "assistant", "content": partial}


def test_stop_during_prompt_processing_leaves_nothing_to_accept(qtbot, open_window):
    w = open_window()
    w.prompt.editor.setPlainText(rules(120))  # about 2,500 tokens: seconds of prompt processing
    progress = []
    w.worker.promptProgress.connect(lambda i, done, total: progress.append((done, total)))
    press_send(qtbot, w, "Which river is the longest?", samples=2)
    qtbot.waitUntil(lambda: bool(progress), timeout=30_000)
    assert progress[-1][0] < progress[-1][1]  # still processing the prompt
    stop_and_wait(qtbot, w)
    first, second = w.outputs.cards
    assert first.status.text().startswith("Not answered: stopped before the first token")
    assert first.text == "" and not first.accept_button.isEnabled()
    assert second.status.text() == "Not run: stopped" and not second.accept_button.isEnabled()
    # The window is free again: the next Send runs and finishes.
    w.prompt.editor.setPlainText("You are a geography tutor.")
    w.sampling.max_tokens.setValue(8)
    press_send(qtbot, w, "Which river is the longest?", samples=1)
    qtbot.waitUntil(lambda: not w.generating, timeout=120_000)
    [card] = w.outputs.cards
    assert card.outcome.state == "done" and card.accept_button.text() == "Accept"


# -- the warm-up -----------------------------------------------------------------------------


def test_an_empty_start_prepares_nothing_and_says_nothing(qtbot, open_window):
    w = open_window()
    qtbot.waitUntil(lambda: warm_idle(w), timeout=10_000)
    settle(qtbot, 200)
    assert w.session.compose_turns([]).messages == []  # nothing written: no system prompt yet
    assert w.cache_status.text() == ""
    template_only = stable_prefix(w.engine, "chat", [])  # the template's default system prompt
    assert template_only and w.engine.cached_tokens(template_only)[0] == 0
    # Once something is written, it is warmed as before.
    w.prompt.editor.setPlainText("You are a geography tutor. Answer in two sentences at most.")
    qtbot.waitUntil(lambda: w.cache_status.text().endswith("tokens cached"), timeout=60_000)


def test_a_prompt_that_cannot_be_sent_is_not_warmed_and_the_line_says_why(qtbot, open_window):
    w = open_window()
    qtbot.waitUntil(lambda: warm_idle(w), timeout=10_000)
    progress = []
    w.worker.warmProgress.connect(lambda done, total: progress.append(done))
    w.prompt.editor.setPlainText(" ".join(TOPICS[i % len(TOPICS)] for i in range(10_500)))
    c = w.session.compose_turns(w.session.history())
    assert c.total_tokens > c.n_ctx  # the budget bar reads "free 0"
    expected = (f"The prompt does not fit the context: {c.total_tokens:,} of {c.n_ctx:,} tokens. "
                "Shorten the prompt or the conversation, or choose a longer context (or a model with "
                "one) in the Model panel.")
    qtbot.waitUntil(lambda: w.cache_status.text() == expected, timeout=10_000)
    qtbot.waitUntil(lambda: warm_idle(w), timeout=10_000)  # its pause went by...
    settle(qtbot, 300)
    assert progress == [] and not w.cache_status.warming  # ...and nothing was processed
    assert w.cache_status.text() == expected
    # Shortened, it is warmed again.
    w.prompt.editor.setPlainText(rules(10))
    qtbot.waitUntil(lambda: w.cache_status.text().endswith("tokens cached"), timeout=60_000)
    assert progress
