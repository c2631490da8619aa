"""An exception escaping a window slot becomes a message in the window; the window lives on."""

import sys

import pytest

from workbench.app import build, shutdown


@pytest.mark.qt_no_exception_capture  # the window's own boundary is what is tested here
def test_a_slot_that_raises_shows_a_message_and_the_window_goes_on(qtbot, workbench_home, monkeypatch):
    passed_on = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: passed_on.append(exc[0]))
    window, thread = build(load_model=False)
    qtbot.addWidget(window)
    try:
        def broken():
            raise ZeroDivisionError("budget")

        window.session.enforce_budget = broken
        window.notebook.changed.emit()  # a real signal into a real slot
        assert not window.banner.isHidden()
        assert "Something went wrong in the window (ZeroDivisionError: budget)" in window.banner.text()
        assert (workbench_home / "workbench.log").read_text().count("ZeroDivisionError: budget") == 1
        assert passed_on == [ZeroDivisionError]  # still printed by the hook before ours
        window.input.setPlainText("still alive")
        window.recompose()  # the window goes on working
        assert window.prompt.budget.parts["conversation"] > 0
    finally:
        shutdown(window, thread)
