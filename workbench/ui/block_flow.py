"""How both panes put Markdown on screen without stalling the window: a text's blocks are placed
into the document a time slice at a time (BlockFlow), each as Markdown when the slice has time for
it, else as plain text converted in place by a later slice. Before the converter
(chat.markdown) is loaded, blocks are placed as typed and wait for it."""

import time
from collections import deque
from collections.abc import Callable

from PySide6.QtGui import (
    QFont,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextDocumentFragment,
)

from workbench.chat.markdown_blocks import BLOCK_DEADLINE_S, Block, loaded, plain_html
from workbench.ui.safe_browser import nothing

# GUI-thread time a slice may start new work in; a block begun just before the end may add up to
# BLOCK_DEADLINE_S, so a slice stays under ~30 ms and the event loop runs between slices.
SLICE_S = 0.008
LINE_CHARS = 16


class _Scratch(QTextDocument):
    """Where a block's HTML is parsed before it is copied in: like SafeBrowser, it loads nothing
    (a bare QTextDocument would read local files named by <img src>)."""

    def loadResource(self, kind, url):
        return nothing(kind)


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
        """Whether anything is left to place or to convert (blocks waiting for the converter to
        be loaded do not count)."""
        return (bool(self.plain) and loaded() is not None) or self.pending()

    def place(self, deadline: float, min_chars: int = 0) -> None:
        """Place pending blocks until the deadline (and at least min_chars of text in all, so a
        short text is all there at once)."""
        converter = loaded()
        while (time.perf_counter() < deadline or self.placed_chars < min_chars) and self.pending():
            block, self._next = self._next, None
            left = deadline - time.perf_counter()
            if converter is None:
                html_text, ok = plain_html(block.raw), None
            else:
                html_text, ok = converter.block_html(block, self.refs, BLOCK_DEADLINE_S if left > 0 else 0)
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
        converter = loaded()
        while self.plain and converter is not None and time.perf_counter() < deadline:
            block, first, last = self.plain[0]
            html_text, ok = converter.block_html(block, self.refs)
            if ok is None:
                return  # ran out of time once: the next slice tries again, and then it is final
            self.plain.popleft()
            if ok:
                cursor = QTextCursor(self.doc)
                cursor.setPosition(first.position())
                cursor.setPosition(last.position(), QTextCursor.KeepAnchor)
                cursor.removeSelectedText()
                insert_html(cursor, html_text)
