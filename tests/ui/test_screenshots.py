"""Screenshots of the real window for people to look at (tests/artifacts): a laptop and a desktop
screen, light and dark; the empty start, a 3-candidate compare with the real model, the notebook."""

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from tests.ui.test_redesign import fully_visible, send, settle
from workbench.app import build, shutdown
from workbench.ui import palette

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LESSONS = ("When the user asks for a list, number it.",
           "When you give a distance, use kilometres.",
           "When a question is ambiguous, ask one short question back.")


def save(window, name: str) -> QImage:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    grabbed = window.grab().toImage()
    assert grabbed.save(str(path))
    saved = QImage(str(path))
    assert saved.size() == grabbed.size() == window.size()
    return saved


def lightness(image: QImage) -> float:
    """Mean lightness (0..255) over a grid of samples."""
    values = [image.pixelColor(x, y).lightness() for x in range(0, image.width(), 24)
              for y in range(0, image.height(), 24)]
    return sum(values) / len(values)


def colours(image: QImage) -> int:
    return len({image.pixel(x, y) for x in range(0, image.width(), 12) for y in range(0, image.height(), 12)})


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)], ids=["1366x768", "1920x1080"])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots(qtbot, chat_model_path, size, theme):
    window, thread = build(load_model=True)
    try:
        qtbot.addWidget(window)
        window.apply_theme(theme)
        window.resize(*size)
        window.show()
        qtbot.waitUntil(lambda: window.model_ready or window.banner.isVisible(), timeout=30_000)
        assert window.model_ready, window.banner.text()
        settle(qtbot, 150)
        tag = f"{size[0]}x{size[1]}-{theme}"
        empty = save(window, f"window-empty-{tag}")
        assert (lightness(empty) < 90) == (theme == "dark"), lightness(empty)

        for text in LESSONS:
            window.notebook.text.setText(text)
            window.notebook.add()
        window.notebook.list.setCurrentItem(window.notebook.list.topLevelItem(0))
        window.notebook.toggle_pin()
        window.prompt.editor.setPlainText("You are a concise travel assistant for families.")
        window.sampling.temperature.setValue(0.8)
        window.sampling.seed.setValue(3)
        window.sampling.max_tokens.setValue(90)
        window.vote_switch.setChecked(False)
        send(qtbot, window, "Give me three things to see in Rome.", samples=3)
        settle(qtbot, 150)
        cards = window.outputs.cards
        assert len(cards) == 3 and all(c.text.strip() and "tok/s" in c.status.text() for c in cards)
        for card in cards:
            for b in (card.accept_button, card.good, card.bad, card.copy, card.teach_button):
                assert fully_visible(window, b), (tag, card.label, b.text())
        compare = save(window, f"window-compare-{tag}")
        assert colours(compare) >= 30

        window.notebook_dock.show()
        window.notebook_dock.raise_()
        window.notebook.tabs.setCurrentIndex(0)
        settle(qtbot, 100)
        assert window.notebook.list.topLevelItemCount() == len(LESSONS)
        notebook = save(window, f"window-notebook-{tag}")
        assert (lightness(notebook) < 90) == (theme == "dark")
        qtbot.keyClick(window, Qt.Key_Escape)  # nothing running: a no-op, and no crash
    finally:
        shutdown(window, thread)
        palette.apply(False)
