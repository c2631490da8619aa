"""The conversation pane: accepted messages as Markdown, with edit, branch, delete and branch arrows.

Each message is a pair of frames (a thin accent strip and a tinted box: table cells would be laid
out again in full on each insertion), its body placed by a BlockFlow a time slice at a time, last
message first, so a huge message never stalls the window.
"""

import html
import time

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QTextBlockFormat, QTextCharFormat, QTextCursor, QTextFrame, QTextFrameFormat

from workbench.chat.markdown_blocks import iter_blocks, references
from workbench.chat.session import ShownMessage
from workbench.ui.block_flow import SLICE_S, BlockFlow, squash_block
from workbench.ui.palette import c
from workbench.ui.safe_browser import APP_SCHEME, SafeBrowser

ROLES = {"user": "You", "assistant": "Assistant", "system": "System"}
FIRST_SLICE_S = 0.015  # show_messages itself: a usual conversation is all there when it returns
FIRST_CHARS = 2000  # ... placed, as plain text if need be, even past that time (Qt takes
# ~15 us a line: a flood of short lines this size costs ~15 ms more)


def role_style(role: str) -> tuple[str, str, str]:
    """(who, background, accent) for a message's role, from the palette in use."""
    if role in ROLES:
        return ROLES[role], c(f"{role}_bg"), c(f"{role}_accent")
    return role, c("base"), c("other_accent")


def _link(action: str, arg, text: str) -> str:
    return (f'<a href="{APP_SCHEME}:{action}/{arg}" style="color:{c("muted")};text-decoration:none">'
            f"{text}</a>")


def _frame(cursor: QTextCursor, color: str, left: float = 0, bottom: float = 0,
           padding: float = 0) -> QTextFrame:
    """A tinted frame at cursor (which moves inside it)."""
    fmt = QTextFrameFormat()
    fmt.setBackground(QColor(color))
    fmt.setBorder(0)
    fmt.setPadding(padding)
    fmt.setLeftMargin(left)
    fmt.setBottomMargin(bottom)
    return cursor.insertFrame(fmt)


class ConversationView(SafeBrowser):
    """Signals (from SafeBrowser.action): copy/ID, edit/ID, branch/ID, delete/ID, switch/ID,
    copy-code/KEY."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("conversationView")
        self.shown: list[ShownMessage] = []
        self.flows: list[BlockFlow] = []
        self._more = QTimer(self)
        self._more.setInterval(0)
        self._more.timeout.connect(self._continue)

    def texts(self) -> list[str]:
        return [s.message.content for s in self.shown]

    def message_text(self, message_id: int) -> str:
        return next((s.message.content for s in self.shown if s.message.id == message_id), "")

    def show_messages(self, shown: list[ShownMessage]) -> None:
        self.shown = shown
        self._more.stop()
        self.flows = []
        if not shown:
            self.setHtml(f'<p style="color:{c("faint")}">No messages yet. Type a message below and '
                         "press Ctrl+Enter; accept the best candidate into the conversation.</p>")
            return
        self.clear()
        doc = self.document()
        doc.setUndoRedoEnabled(False)
        for s in shown:
            m = s.message
            who, bg, accent = role_style(m.role)
            nav = ""
            if s.branches > 1:
                prev = _link("switch", s.prev_id, "‹") if s.prev_id else "‹"
                nxt = _link("switch", s.next_id, "›") if s.next_id else "›"
                nav = f"&nbsp;&nbsp;{prev} {s.branch}/{s.branches} {nxt}"
            actions = " · ".join([_link("copy", m.id, "copy"), _link("edit", m.id, "edit"),
                                  _link("branch", m.id, "branch"), _link("delete", m.id, "delete")])
            # A document keeps an empty block before and after each frame: they are squashed
            # flat, or they would show as stripes.
            cursor = doc.rootFrame().lastCursorPosition()
            squash_block(cursor)
            strip = _frame(cursor, accent, bottom=6)
            squash_block(cursor)
            box = _frame(cursor, bg, left=3, padding=8)
            squash_block(strip.lastCursorPosition())
            cursor.setBlockFormat(QTextBlockFormat())
            cursor.setBlockCharFormat(QTextCharFormat())
            cursor.setCharFormat(QTextCharFormat())
            cursor.insertHtml(f'<span style="color:{accent};font-weight:600">{html.escape(who)}</span>'
                              f'<span style="color:{c("faint")};font-size:small">{nav}&nbsp;&nbsp;&nbsp;'
                              f"{actions}</span>")
            flow = BlockFlow(doc, box.lastCursorPosition, references(m.content))
            flow.add(iter_blocks(m.content))
            self.flows.append(flow)
        squash_block(doc.rootFrame().lastCursorPosition())
        self._continue(FIRST_SLICE_S, FIRST_CHARS)
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def resume(self) -> None:
        """Go on converting: the converter was loaded after the messages were placed as typed."""
        self._continue()

    def _continue(self, slice_s: float = SLICE_S, min_chars: int = 0) -> None:
        """One slice of placing and converting message bodies, the last message first."""
        deadline = time.perf_counter() + slice_s
        bar = self.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 4
        flows = self.flows[::-1]
        for flow in flows:  # first everything on screen, as plain text if need be
            flow.place(deadline, min_chars)
            min_chars = max(0, min_chars - flow.placed_chars)
        for flow in flows:
            flow.upgrade(deadline)
        if at_end:
            bar.setValue(bar.maximum())
        if any(flow.busy() for flow in self.flows):
            self._more.start()
        else:
            self._more.stop()
