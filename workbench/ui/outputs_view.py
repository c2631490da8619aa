"""The outputs pane: candidate answers side by side, streamed, each with stats and actions.

Also the way both panes put Markdown on screen without stalling the window: a text's blocks are
placed into the document a time slice at a time (BlockFlow), each as Markdown when the slice has
time for it, else as plain text converted in place by a later slice.
"""

import html
import time
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import (
    QFont,
    QGuiApplication,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextDocumentFragment,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from workbench.chat.markdown import (
    BLOCK_DEADLINE_S,
    Block,
    block_html,
    iter_blocks,
    plain_html,
    references,
    split_blocks,
)
from workbench.runtime.params import RunStats
from workbench.ui.safe_browser import SafeBrowser

RENDER_INTERVAL_MS = 120  # Markdown is re-rendered on this timer while streaming, not per token
# GUI-thread time a slice may start new work in; a block begun just before the end may add up to
# BLOCK_DEADLINE_S, so a slice stays under ~30 ms and the event loop runs between slices.
SLICE_S = 0.008
LINE_CHARS = 16


class _Scratch(QTextDocument):
    """Where a block's HTML is parsed before it is copied in: like SafeBrowser, it loads nothing
    (a bare QTextDocument would read local files named by <img src>)."""

    def loadResource(self, kind, url):
        return None


_SCRATCH: list[_Scratch] = []


def insert_html(cursor: QTextCursor, html_text: str) -> None:
    """Insert HTML at the end of the block at cursor, as blocks of its own with their formats.

    (QTextCursor.insertHtml merges the first new block into the one at the cursor, losing its
    margins, list and code background; a leading empty block in the copied fragment avoids that.)
    """
    if not _SCRATCH:
        _SCRATCH.append(_Scratch())
    source = _SCRATCH[0]
    source.setHtml(html_text)
    frames = source.rootFrame().childFrames()
    starts_with_table = bool(frames) and frames[0].firstPosition() <= 1 and not source.firstBlock().text()
    if not starts_with_table:  # a table already comes after an empty block of its own
        QTextCursor(source).insertBlock()
    cursor.insertFragment(QTextDocumentFragment(source))


def squash_block(cursor: QTextCursor) -> None:
    """Make the (empty) block at cursor take no height: the anchor blocks a document must have
    before frames and insertions."""
    fmt = QTextBlockFormat()
    fmt.setLineHeight(0, QTextBlockFormat.LineHeightTypes.FixedHeight.value)
    fmt.setTopMargin(0)
    fmt.setBottomMargin(0)
    cursor.setBlockFormat(fmt)
    char = QTextCharFormat()
    char.setFont(QFont(cursor.charFormat().font().family(), 1))
    cursor.setBlockCharFormat(char)


class BlockFlow:
    """One text's blocks, placed at the end of a region of a document a time slice at a time.

    Placed as Markdown when the slice has time, else as plain text (so the text is all there)
    that upgrade() later converts in place. Blocks are taken lazily from what add() was given,
    so even cutting a huge text into blocks happens a slice at a time.
    """

    def __init__(self, doc: QTextDocument, end: Callable[[], QTextCursor], refs: str = ""):
        self.doc, self.end, self.refs = doc, end, refs
        self._sources: deque = deque()  # iterators of blocks still to place, in order
        self._next: Block | None = None  # the next block to place, taken from them
        # Placed as plain for lack of time: (block, start, end). The start cursor moves past
        # text inserted at it (an upgrade of the block before); the end one stays put, so a
        # block appended after it is not taken in.
        self.plain: deque[tuple[Block, QTextCursor, QTextCursor]] = deque()
        self.placed_chars = 0  # a line counts as LINE_CHARS more: Qt's cost is mostly per line

    def add(self, blocks) -> None:
        """Queue blocks (any iterable, taken as they are placed) after those already queued."""
        self._sources.append(iter(blocks))

    def pending(self) -> bool:
        """Whether blocks are still to be placed."""
        while self._next is None and self._sources:
            self._next = next(self._sources[0], None)
            if self._next is None:
                self._sources.popleft()
        return self._next is not None

    def busy(self) -> bool:
        """Whether anything is left to place or to convert."""
        return bool(self.plain) or self.pending()

    def place(self, deadline: float, min_chars: int = 0) -> None:
        """Place pending blocks until the deadline (and at least min_chars of text in all, so a
        short text is all there at once)."""
        while (time.perf_counter() < deadline or self.placed_chars < min_chars) and self.pending():
            block, self._next = self._next, None
            left = deadline - time.perf_counter()
            html_text, ok = block_html(block, self.refs, BLOCK_DEADLINE_S if left > 0 else 0)
            cursor = self.end()
            start = cursor.position()
            insert_html(cursor, html_text)
            if ok is None:
                first = QTextCursor(self.doc)
                first.setPosition(start)
                last = QTextCursor(cursor)
                last.setKeepPositionOnInsert(True)
                self.plain.append((block, first, last))
            self.placed_chars += len(block.raw) + LINE_CHARS * block.raw.count("\n")

    def upgrade(self, deadline: float) -> None:
        """Convert blocks placed as plain text to Markdown, in place, until the deadline."""
        while self.plain and time.perf_counter() < deadline:
            block, first, last = self.plain[0]
            html_text, ok = block_html(block, self.refs)
            if ok is None:
                return  # ran out of time once: the next slice tries again, and then it is final
            self.plain.popleft()
            if ok:
                cursor = QTextCursor(self.doc)
                cursor.setPosition(first.position())
                cursor.setPosition(last.position(), QTextCursor.KeepAnchor)
                cursor.removeSelectedText()
                insert_html(cursor, html_text)


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
        if not self.text:
            self.status.setText("generating…")
        self.text += piece
        self.dirty = True

    def render(self, deadline: float | None = None) -> None:
        """Bring the body up to date with the text, spending about one slice."""
        if not (self.dirty or self.flow.busy() or self._tail_later):
            self._more.stop()
            return
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
        if not (self._tail_slow or self._tail_later):
            html_text, ok = block_html(self._open, "", remember=False)
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
            card._more.stop()
            card.setParent(None)
            card.deleteLater()
        self.cards = []
        self.placeholder.show()

    def render_dirty(self) -> None:
        deadline = time.perf_counter() + SLICE_S  # one slice for all the cards together
        for card in self.cards:
            card.render(deadline)

    def stop_rendering(self) -> None:
        self.timer.stop()
        self.render_dirty()
