"""The outputs pane: candidate answers in a grid, streamed, each with stats and actions."""

import html
import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from workbench.chat.candidate_outcome import Outcome, finished, never_ran
from workbench.chat.markdown_blocks import Block, iter_blocks, loaded, plain_html, references, split_blocks
from workbench.runtime.params import RunStats
from workbench.ui.block_flow import SLICE_S, BlockFlow, insert_html, squash_block
from workbench.ui.layout import ElidedLabel, FlowRow, copy_text
from workbench.ui.palette import c
from workbench.ui.safe_browser import SafeBrowser

RENDER_INTERVAL_MS = 120  # Markdown is re-rendered on this timer while streaming, not per token
class _Grid(QGridLayout):
    """A grid that fills its scroll area's height: the cards' wrapping button rows must not make
    the scroll area size it by height-for-width (from the cards' preferred heights), which
    pushed the third card off screen."""

    def hasHeightForWidth(self) -> bool:
        return False


class CardBody(SafeBrowser):
    """A candidate's text; its code blocks' copy links copy from the card's whole text."""

    def __init__(self, card):
        super().__init__()
        self.card = card

    def texts(self) -> list[str]:
        return [self.card.text]


class OutputCard(QFrame):
    """One candidate; once it is over, `outcome` says how (whole, partial, not run).

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
        self.outcome: Outcome | None = None
        self.started = self.failed = False

        self.label = label
        self.title = QLabel(f"<b>{html.escape(label)}</b>")
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.RichText)
        self.status = ElidedLabel("waiting…")
        self.status.setObjectName("cardStats")
        self.body = CardBody(self)
        self.body.setObjectName("cardBody")
        self.body.setMinimumHeight(48)
        self.accept_button = QPushButton("Accept")
        self.accept_button.setObjectName("acceptButton")
        self.accept_button.setToolTip("Put this answer into the conversation")
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
        self.copy.setObjectName("copyButton")
        self.copy.setToolTip("Copy this answer")
        self.copy.clicked.connect(lambda: copy_text(self.copy, self.text, f"{self.label}'s answer"))
        self.comment = QLineEdit()
        self.comment.setObjectName("ratingComment")
        self.comment.setPlaceholderText("Why? (saved with the rating)")
        self.comment.hide()  # asked for once the answer is rated
        # A comment typed after the rating updates the same rating.
        self.comment.editingFinished.connect(lambda: self.rating and self.rate(self.rating))

        head = QHBoxLayout()
        head.setSpacing(6)
        head.addWidget(self.title, 1)
        self.buttons = FlowRow([self.accept_button, self.good, self.bad, self.copy, self.teach_button,
                                self.reflect_button])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addLayout(head)
        layout.addWidget(self.status)
        layout.addWidget(self.body, 1)
        layout.addWidget(self.comment)
        layout.addWidget(self.buttons)
        self._first_token_at = 0.0
        self._pieces = 0
        # Slices that carry on converting when the stream outran rendering, between timer ticks.
        self._more = QTimer(self)
        self._more.setInterval(0)
        self._more.timeout.connect(self.render)
        self._reset_body()

    def _reset_body(self, refs: str = "") -> None:
        self.body.clear()
        doc = self.body.document()
        doc.setUndoRedoEnabled(False)
        squash_block(QTextCursor(doc))
        self._done, self._carry = 0, ""  # text[:_done] is cut into blocks handed to the flow
        self._open: Block | None = None  # the last block, still growing: shown after the flow's
        self._tail: QTextCursor | None = None  # where it starts in the document, when shown
        self._tail_slow = False  # it did not convert in time: plain until it is complete
        self._tail_later = False  # shown plain for want of time in its slice: try again soon
        self._final = False
        self.flow = BlockFlow(doc, self._flow_end, refs)

    def _flow_end(self) -> QTextCursor:
        cursor = QTextCursor(self.body.document())
        if self._tail is not None:
            cursor.setPosition(self._tail.position())
        else:
            cursor.movePosition(QTextCursor.End)
        return cursor

    def append(self, piece: str) -> None:
        now = time.perf_counter()
        if not self.text:
            self._first_token_at = now
            self.status.setText("generating…")
        self.text += piece
        self._pieces += 1  # the worker sends one piece a token
        self.dirty = True

    def live_speed(self) -> str:
        """Tokens/s so far while streaming ("" before two tokens)."""
        elapsed = time.perf_counter() - self._first_token_at
        if self.stats is not None or self._pieces < 2 or elapsed <= 0:
            return ""
        return f"generating… {(self._pieces - 1) / elapsed:.0f} tok/s · {self._pieces} tokens"

    def render(self, deadline: float | None = None) -> None:
        """Bring the body up to date with the text, spending about one slice."""
        if not (self.dirty or self.flow.busy() or self._tail_later):
            self._more.stop()
            return
        if self.dirty and self.stats is None:
            speed = self.live_speed()
            if speed:
                self.status.setText(speed)
        deadline = deadline or time.perf_counter() + SLICE_S
        bar = self.body.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 4
        if self.dirty:
            self.dirty = False
            self._cut()
        self.flow.place(deadline, min_chars=4000 if self._final else 0)
        if self.flow.pending():
            self._remove_tail()  # it belongs after what is still waiting
        elif self._open is not None and (self._tail is None or self._tail_later):
            self._remove_tail()
            self._show_tail(deadline)
        self.flow.upgrade(deadline)
        if at_end:
            bar.setValue(bar.maximum())
        if self.flow.busy() or self._tail_later:
            self._more.start()
        else:
            self._more.stop()

    def _cut(self) -> None:
        """Hand the blocks completed since the last cut to the flow; keep the growing one open."""
        self._remove_tail()
        rest = self.text[self._done:]
        if self._final:  # all of it, cut lazily: the flow takes blocks as it has time
            self.flow.add(iter_blocks(rest, self._carry))
            self._done, self._open = len(self.text), None
            return
        blocks = split_blocks(rest, self._carry)  # what came since the last cut: a few KB
        if len(blocks) > 1:
            self._done += blocks[-2].end
            self._carry = blocks[-2].carry
            self.flow.add(blocks[:-1])
            self._tail_slow = False
        self._open = blocks[-1] if blocks else None

    def _remove_tail(self) -> None:
        if self._tail is not None:
            cursor = QTextCursor(self.body.document())
            cursor.setPosition(self._tail.position())
            cursor.movePosition(QTextCursor.End, QTextCursor.KeepAnchor)
            cursor.removeSelectedText()
            self._tail = None
        self._tail_later = False

    def _show_tail(self, deadline: float) -> None:
        if self._tail is not None:
            return
        ok = None
        self._tail_later = not self._tail_slow and time.perf_counter() >= deadline
        converter = loaded()
        if not (self._tail_slow or self._tail_later) and converter is not None:
            html_text, ok = converter.block_html(self._open, "", remember=False)
            self._tail_slow = ok is None
        if not ok:
            html_text = plain_html(self._open.raw)
        cursor = QTextCursor(self.body.document())
        cursor.movePosition(QTextCursor.End)
        start = cursor.position()
        insert_html(cursor, html_text)
        self._tail = QTextCursor(self.body.document())
        self._tail.setPosition(start)

    def finish(self, stats: RunStats) -> None:
        self.stats = stats
        self._final = True
        self.dirty = True
        self.render()
        # Blocks cut from the growing text are those of the whole text (split_blocks is
        # prefix-stable), but reference links ([x]: url) can only be resolved now: with them
        # the body is rebuilt (rare).
        refs = references(self.text)
        if refs:
            self._reset_body(refs)
            self._final = True
            self.dirty = True
            self.render()
        self._show_outcome(finished(stats, self.text))

    def not_run(self) -> None:
        """The run was stopped before this candidate's turn: nothing to accept or copy."""
        self._show_outcome(never_ran())
        self.copy.setEnabled(False)

    def begin(self) -> None:
        """Its turn came: the prompt is being processed."""
        self.started = True
        if not self.text:
            self.status.setText("processing the prompt…")

    @property
    def waiting(self) -> bool:
        """Its turn has not come yet."""
        return not (self.started or self.text or self.failed) and self.outcome is None

    def _show_outcome(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.status.setText(outcome.status)
        self.accept_button.setText(outcome.accept_label)
        self.accept_button.setToolTip("Stopped before it finished: put the partial text into the "
                                      "conversation" if outcome.partial else
                                      "Put this answer into the conversation")
        for b in (self.accept_button, self.good, self.bad, self.teach_button):
            b.setEnabled(outcome.can_accept)

    def mark_answer(self, answer: str, majority: bool, tally: str) -> None:
        """Show the final answer found in this candidate, and whether it is the majority."""
        shown = html.escape(answer) if answer else "<i>none found</i>"
        star = (f" <span style='color:{c('success')}'>★ majority {html.escape(tally)}</span>"
                if majority else "")
        self.title.setText(f"<b>{html.escape(self.label)}</b> · answer: {shown}{star}")
        self.setProperty("majority", "true" if majority else "false")
        self.style().unpolish(self)
        self.style().polish(self)

    def fail(self, message: str) -> None:
        self.failed = True
        self.status.setText(f"<span style='color:{c('error')}'>{html.escape(message)}</span>")

    def rate(self, value: int) -> None:
        """value: +1 good, -1 bad, 0 cleared."""
        self.rating = value
        self.good.setChecked(self.rating == 1)
        self.bad.setChecked(self.rating == -1)
        self.reflect_button.setVisible(self.rating == -1)  # a bad answer offers reflection
        self.comment.setVisible(self.rating != 0 or bool(self.comment.text()))
        self.rated.emit(self.rating, self.comment.text().strip())


class OutputsView(QWidget):
    """Candidates in a grid (candidateGrid): as many columns as fit, wrapping onto rows; each
    card's actions stay visible and a long answer scrolls inside its card. The candidates a new
    run replaces are kept for one step of undo (restore_previous).

    Signals:
        accepted(int): candidate i was accepted.
        rated(int, int, str): candidate i rated +1/-1/0 with a comment.
        teach(int), reflect(int): Teach… or Reflect on candidate i.
        previousChanged(bool): whether there are earlier candidates to bring back.
    """

    accepted = Signal(int)
    rated = Signal(int, int, str)
    teach = Signal(int)
    reflect = Signal(int)
    previousChanged = Signal(bool)
    MIN_CARD_WIDTH = 250
    MIN_CARD_HEIGHT = 128

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("outputsView")
        self.cards: list[OutputCard] = []
        self.previous: list[OutputCard] = []  # the candidates the last start() replaced
        self.grid = _Grid()
        self.grid.setSpacing(6)
        self.grid.setContentsMargins(0, 0, 0, 0)
        holder = QWidget()
        holder.setObjectName("candidateGrid")
        holder.setLayout(self.grid)
        self.holder = holder
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(holder)
        self.scroll.setFrameShape(QFrame.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)  # cards wrap instead
        self.placeholder = QLabel("Candidates for the next answer appear here, side by side.\n"
                                  "Type a message and press Ctrl+Enter.")
        self.placeholder.setObjectName("candidatesPlaceholder")
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.grid.addWidget(self.placeholder, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll)
        self.timer = QTimer(self)
        self.timer.setInterval(RENDER_INTERVAL_MS)
        self.timer.timeout.connect(self.render_dirty)
        self._columns = 0

    def start(self, labels: list[str]) -> None:
        """New cards for a run; the ones on screen are kept aside for restore_previous()."""
        import workbench.chat.markdown  # noqa: F401 - the converter, if the window has not loaded it yet
        self._forget(self.previous)
        self.previous = []
        for card in self.cards:
            card._more.stop()
            card.hide()
            self.grid.removeWidget(card)
        self.previous, self.cards = self.cards, []
        self.placeholder.hide()
        for i, label in enumerate(labels):
            card = OutputCard(label)
            card.setMinimumWidth(self.MIN_CARD_WIDTH - 20)
            card.setMinimumHeight(self.MIN_CARD_HEIGHT)
            self._connect(card, i)
            self.cards.append(card)
        self._columns = 0
        self._arrange()
        self.timer.start()
        self.previousChanged.emit(bool(self.previous))

    def _connect(self, card: "OutputCard", i: int) -> None:
        # The signals name the card's index among those on screen: reconnect when they move.
        for signal, slot in getattr(card, "_wired", []):
            signal.disconnect(slot)
        card._wired = [(card.accepted, lambda i=i: self.accepted.emit(i)),
                       (card.rated, lambda v, cm, i=i: self.rated.emit(i, v, cm)),
                       (card.teach, lambda i=i: self.teach.emit(i)),
                       (card.reflect, lambda i=i: self.reflect.emit(i))]
        for signal, slot in card._wired:
            signal.connect(slot)

    def restore_previous(self) -> bool:
        """One step of undo: the candidates before the last run come back (and these go aside)."""
        if not self.previous:
            return False
        for card in self.cards:
            card._more.stop()
            card.hide()
            self.grid.removeWidget(card)
        self.cards, self.previous = self.previous, self.cards
        for i, card in enumerate(self.cards):
            self._connect(card, i)
        self.placeholder.setVisible(not self.cards)
        self._columns = 0
        self._arrange()
        self.previousChanged.emit(bool(self.previous))
        return True

    def clear(self) -> None:
        """No candidates on screen, none kept aside."""
        self._forget(self.cards + self.previous)
        self.cards, self.previous = [], []
        self.placeholder.show()
        self.previousChanged.emit(False)

    @staticmethod
    def _forget(cards) -> None:
        for card in cards:
            card._more.stop()
            card.setParent(None)
            card.deleteLater()

    def columns(self, width: int | None = None) -> int:
        """How many cards go side by side: as many as fit, then balanced over the rows."""
        n = len(self.cards)
        if not n:
            return 1
        width = width if width is not None else self.scroll.viewport().width()
        fit = max(1, min(n, width // self.MIN_CARD_WIDTH))
        rows = -(-n // fit)
        return -(-n // rows)

    def _arrange(self) -> None:
        cols = self.columns()
        if cols == self._columns and all(self.grid.indexOf(c) >= 0 for c in self.cards):
            return
        self._columns = cols
        for card in self.cards:
            self.grid.removeWidget(card)
        for r in range(self.grid.rowCount()):
            self.grid.setRowStretch(r, 0)
        for col in range(self.grid.columnCount()):
            self.grid.setColumnStretch(col, 0)
        for i, card in enumerate(self.cards):
            self.grid.addWidget(card, i // cols, i % cols)
            card.show()
        for r in range(-(-len(self.cards) // cols)):
            self.grid.setRowStretch(r, 1)
        for col in range(cols):
            self.grid.setColumnStretch(col, 1)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange()

    def render_dirty(self) -> None:
        deadline = time.perf_counter() + SLICE_S  # one slice for all the cards together
        for card in self.cards:
            card.render(deadline)

    def stop_rendering(self) -> None:
        self.timer.stop()
        self.render_dirty()

    def mark_not_run(self) -> None:
        """The run is over: the cards whose turn never came (Stop) say so."""
        for card in self.cards:
            if card.waiting:
                card.not_run()
