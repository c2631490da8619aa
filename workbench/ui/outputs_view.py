"""The outputs pane: candidate answers side by side, streamed, each with stats and actions."""

import html

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QScrollArea, QVBoxLayout, QWidget)

from ..engine import RunStats
from ..markdown_render import render_markdown
from .safe_browser import SafeBrowser

RENDER_INTERVAL_MS = 120  # Markdown is re-rendered on this timer while streaming, not per token


def stats_line(s: RunStats) -> str:
    return (f"{s.decode_tokens_per_s:.0f} tok/s · first token {s.time_to_first_token_s * 1000:.0f} ms"
            f" · {s.reused_tokens:,}/{s.prompt_tokens:,} reused · {s.completion_tokens} tokens"
            + (" · stopped" if s.finish_reason == "cancelled" else "")
            + (" · hit max tokens" if s.finish_reason == "length" else ""))


class OutputCard(QFrame):
    """One candidate.

    Signals:
        accepted(), rated(int, str), copied()
    """

    accepted = Signal()
    rated = Signal(int, str)
    teach = Signal()
    reflect = Signal()

    def __init__(self, label: str, parent=None):
        super().__init__(parent)
        self.setObjectName("outputCard")
        self.setFrameShape(QFrame.StyledPanel)
        self.text = ""
        self.stats: RunStats | None = None
        self.run_id: int | None = None
        self.rating = 0
        self.dirty = False

        self.label = label
        self.title = QLabel(f"<b>{label}</b>")
        self.title.setWordWrap(True)
        self.status = QLabel("waiting…")
        self.status.setObjectName("cardStats")
        self.status.setStyleSheet("color:#5F6B7A")
        self.status.setWordWrap(True)
        self.body = SafeBrowser()
        self.body.setObjectName("cardBody")
        self.accept_button = QPushButton("Accept")
        self.accept_button.setObjectName("acceptButton")
        self.accept_button.setEnabled(False)
        self.accept_button.clicked.connect(self.accepted)
        # Plain symbols: emoji fonts are missing on many Linux desktops.
        self.good = QPushButton("✓ Good")
        self.good.setObjectName("goodButton")
        self.bad = QPushButton("✗ Bad")
        self.bad.setObjectName("badButton")
        for b, value in ((self.good, 1), (self.bad, -1)):
            b.setCheckable(True)
            b.setEnabled(False)
            b.clicked.connect(lambda _=False, v=value: self.rate(0 if self.rating == v else v))
        self.teach_button = QPushButton("Teach…")
        self.teach_button.setObjectName("teachButton")
        self.teach_button.setToolTip("Edit this answer into the ideal one; it becomes a lesson's "
                                     "demonstration")
        self.teach_button.setEnabled(False)
        self.teach_button.clicked.connect(self.teach)
        self.reflect_button = QPushButton("Reflect")
        self.reflect_button.setObjectName("reflectButton")
        self.reflect_button.setToolTip("Ask the model which lessons would have fixed this answer")
        self.reflect_button.hide()
        self.reflect_button.clicked.connect(self.reflect)
        self.copy = QPushButton("Copy")
        self.copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text))
        self.comment = QLineEdit()
        self.comment.setPlaceholderText("Why? (saved with the rating)")
        # A comment typed after the rating updates the same rating.
        self.comment.editingFinished.connect(lambda: self.rating and self.rate(self.rating))

        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addStretch()
        buttons = QHBoxLayout()
        for w in (self.accept_button, self.good, self.bad, self.copy):
            buttons.addWidget(w)
        learn = QHBoxLayout()
        learn.addWidget(self.teach_button)
        learn.addWidget(self.reflect_button)
        learn.addStretch()
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.status)
        layout.addWidget(self.body, 1)
        layout.addWidget(self.comment)
        layout.addLayout(buttons)
        layout.addLayout(learn)

    def append(self, piece: str) -> None:
        if not self.text:
            self.status.setText("generating…")
        self.text += piece
        self.dirty = True

    def render(self) -> None:
        if self.dirty:
            bar = self.body.verticalScrollBar()
            at_end = bar.value() >= bar.maximum() - 4
            self.body.setHtml(render_markdown(self.text))
            if at_end:
                bar.setValue(bar.maximum())
            self.dirty = False

    def finish(self, stats: RunStats) -> None:
        self.stats = stats
        self.render()
        self.status.setText(stats_line(stats))
        done = bool(self.text.strip())
        for b in (self.accept_button, self.good, self.bad, self.teach_button):
            b.setEnabled(done)

    def mark_answer(self, answer: str, majority: bool, tally: str) -> None:
        """Show the final answer found in this candidate, and whether it is the majority."""
        shown = html.escape(answer) if answer else "<i>none found</i>"
        star = (f" <span style='color:#1E7B34'>★ majority {tally}</span>" if majority else "")
        self.title.setText(f"<b>{html.escape(self.label)}</b> · answer: {shown}{star}")

    def fail(self, message: str) -> None:
        self.status.setText(f"<span style='color:#B3261E'>{message}</span>")

    def rate(self, value: int) -> None:
        """value: +1 good, -1 bad, 0 cleared."""
        self.rating = value
        self.good.setChecked(self.rating == 1)
        self.bad.setChecked(self.rating == -1)
        self.reflect_button.setVisible(self.rating == -1)  # a bad answer offers reflection
        self.rated.emit(self.rating, self.comment.text().strip())


class OutputsView(QWidget):
    """Candidates side by side.

    Signals:
        accepted(int): candidate i was accepted.
        rated(int, int, str): candidate i rated +1/-1/0 with a comment.
    """

    accepted = Signal(int)
    rated = Signal(int, int, str)
    teach = Signal(int)
    reflect = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("outputsView")
        self.cards: list[OutputCard] = []
        self.row = QHBoxLayout()
        self.row.setSpacing(8)
        holder = QWidget()
        holder.setLayout(self.row)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(holder)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        holder.setMinimumWidth(0)
        self.placeholder = QLabel("Candidates for the next answer appear here, side by side.")
        self.placeholder.setStyleSheet("color:#8A94A3")
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.row.addWidget(self.placeholder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.timer = QTimer(self)
        self.timer.setInterval(RENDER_INTERVAL_MS)
        self.timer.timeout.connect(self.render_dirty)

    def start(self, labels: list[str]) -> None:
        self.clear()
        self.placeholder.hide()
        for i, label in enumerate(labels):
            card = OutputCard(label)
            card.setMinimumWidth(320)  # room for its buttons; more cards scroll sideways
            card.accepted.connect(lambda i=i: self.accepted.emit(i))
            card.rated.connect(lambda v, c, i=i: self.rated.emit(i, v, c))
            card.teach.connect(lambda i=i: self.teach.emit(i))
            card.reflect.connect(lambda i=i: self.reflect.emit(i))
            self.cards.append(card)
            self.row.addWidget(card, 1)
        self.timer.start()

    def clear(self) -> None:
        for card in self.cards:
            card.setParent(None)
            card.deleteLater()
        self.cards = []
        self.placeholder.show()

    def render_dirty(self) -> None:
        for card in self.cards:
            card.render()

    def stop_rendering(self) -> None:
        self.timer.stop()
        self.render_dirty()
