"""Opening the real window for the UI tests (the app's own build, offscreen), and sending a
question the way a user does."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from workbench.app import build, shutdown
from workbench.ui import palette

WINDOW_SIZE = (1600, 1000)


@pytest.fixture
def window_factory(qtbot):
    """open(load_model, size, theme) -> a shown, active MainWindow with greedy, short settings;
    every window opened is shut down (and the light palette put back) after the test."""
    opened = []

    def _open(load_model=False, size=WINDOW_SIZE, theme=None):
        window, thread = build(load_model=load_model)
        qtbot.addWidget(window)
        if theme:
            window.apply_theme(theme)
        window.resize(*size)
        window.show()
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow, timeout=2000)  # focus needs an active window
        opened.append((window, thread))
        settle(qtbot)
        if load_model:
            qtbot.waitUntil(lambda: window.model_ready or window.banner.isVisible(), timeout=30_000)
            assert window.model_ready, window.banner.text()
        window.sampling.temperature.setValue(0)
        window.sampling.seed.setValue(1)
        window.sampling.max_tokens.setValue(40)
        return window

    yield _open
    for window, thread in opened:
        shutdown(window, thread)
    palette.apply(False)


@pytest.fixture
def open_window(window_factory, chat_model_path):
    """Open the window as a user does: it loads the default chat model (so the test is `model`)."""
    return lambda **kw: window_factory(load_model=True, **kw)


@pytest.fixture
def open_bare_window(window_factory):
    """Open the window without loading a model."""
    return lambda **kw: window_factory(load_model=False, **kw)


def settle(qtbot, ms: int = 60) -> None:
    """Let queued layout (the first default layout runs on a zero timer) happen."""
    qtbot.wait(ms)
    QApplication.processEvents()


def send(qtbot, window, text, samples=1, timeout=60_000):
    """Type text in the message box, press Send, wait until the candidates are done."""
    window.sampling.samples.setValue(samples)
    window.input.setPlainText(text)
    qtbot.mouseClick(window.send_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not window.generating, timeout=timeout)
