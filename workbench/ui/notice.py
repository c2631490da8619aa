"""Notices over the window (success, info, warning, error), and the closable error banner."""

import re

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

KINDS = ("info", "success", "warning", "error")
AUTO_HIDE_MS = {"info": 6000, "success": 6000}  # warnings and errors stay until closed
NOTICE_WIDTH = 520
MAX_NOTICES = 4


# Advice for the command line that messages from shared code carry, and the window must not show.
CLI_ADVICE = [re.compile(p) for p in (
    r"\s*\(`workbench [^`]*`\)",  # "(`workbench prompt new NAME`)"
    r",? or pass --[\w-]+(?: [A-Z_]+)?",  # ", or pass --model PATH"
    r"\s*[Pp]ass --[\w-]+(?: [A-Z_]+)?\.",  # " Pass --format."
    r"\s*(?:Import one with|Run|Use) `workbench [^`]*`[^.]*\.",  # " Run `workbench …`."
)]


def for_the_window(message: str) -> str:
    """message without command-line advice (the window has its own buttons for that)."""
    for pattern in CLI_ADVICE:
        message = pattern.sub("", message)
    return re.sub(r"\s+\.", ".", message).strip()


def _close_button(slot) -> QToolButton:
    b = QToolButton()
    b.setObjectName("noticeClose")
    b.setText("×")
    b.setToolTip("Close")
    b.setAutoRaise(True)
    b.setCursor(Qt.PointingHandCursor)
    b.clicked.connect(slot)
    return b


class Notice(QFrame):
    """One message: text, an optional action button (e.g. Undo), a close button.

    Args:
        message: plain text; kind: info, success, warning or error; action: (label, callable).
    """

    def __init__(self, message: str, kind: str = "info", action=None, parent=None):
        super().__init__(parent)
        self.setObjectName("notice")
        self.kind = kind if kind in KINDS else "info"
        self.setProperty("kind", self.kind)
        self.label = QLabel(for_the_window(message))
        self.label.setObjectName("noticeText")
        self.label.setTextFormat(Qt.PlainText)  # messages quote file names and model output
        self.label.setWordWrap(True)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 4, 6)
        row.addWidget(self.label, 1)
        self.action_button = None
        if action is not None:
            text, fn = action
            self.action_button = QPushButton(text)
            self.action_button.setObjectName("noticeAction")
            self.action_button.clicked.connect(lambda: (fn(), self.close_notice()))
            row.addWidget(self.action_button)
        self.close_button = _close_button(self.close_notice)
        row.addWidget(self.close_button, 0, Qt.AlignTop)
        self.context = None  # set by NoticeArea.show_notice
        self.timer = QTimer(self, singleShot=True)
        self.timer.timeout.connect(self.close_notice)
        if self.kind in AUTO_HIDE_MS:
            self.timer.start(AUTO_HIDE_MS[self.kind] + (4000 if action else 0))

    def text(self) -> str:
        return self.label.text()

    def close_notice(self) -> None:
        self.timer.stop()
        self.hide()
        self.deleteLater()


class NoticeArea(QWidget):
    """Notices stacked at the top right of a window's central area, over its content.

    Args:
        host: the widget the notices float over (kept in its top right corner as it resizes).
    """

    def __init__(self, host: QWidget):
        super().__init__(host)
        self.setObjectName("noticeArea")
        self.host = host
        self.column = QVBoxLayout()  # not installed: only its spacing is used
        self.column.setSpacing(6)
        self.notices: list[Notice] = []
        host.installEventFilter(self)
        self.hide()

    def show_notice(self, message: str, kind: str = "info", action=None, context=None) -> Notice:
        """context: what the notice is about (e.g. the open prompt and conversation); follow()
        closes it once the window shows something else."""
        # The same message again replaces the old one rather than stacking up.
        for old in [n for n in self.notices if n.text() == for_the_window(message)]:
            old.close_notice()
        notice = Notice(message, kind, action, self)
        notice.context = context
        notice.destroyed.connect(lambda *_, n=notice: self._gone(n))
        self.notices = self.visible()[-(MAX_NOTICES - 1):] + [notice]
        for n in self.findChildren(Notice):
            if n not in self.notices and n.isVisible():
                n.close_notice()
        notice.show()
        self.show()
        self.raise_()
        self._place()
        return notice

    def follow(self, context) -> None:
        """Close the notices about another context than this one (an Undo offered for what is
        no longer on screen would act where the user does not look)."""
        for n in self.visible():
            if n.context is not None and n.context != context:
                n.close_notice()

    def visible(self) -> list[Notice]:
        """The notices on screen, oldest first."""
        return [n for n in self.notices if shiboken6.isValid(n) and n.isVisible()]

    def _gone(self, notice: Notice) -> None:
        if not shiboken6.isValid(self) or not shiboken6.isValid(self.host):
            return  # the window is closing
        self.notices = [n for n in self.notices if n is not notice and shiboken6.isValid(n)]
        if not self.notices:
            self.hide()
        else:
            self._place()

    def _place(self) -> None:
        # Placed by hand, each at the height its wrapped text needs at this width (a layout
        # asked before the labels are shown gets the height wrong).
        width = min(NOTICE_WIDTH, max(200, self.host.width() - 24))
        y = 0
        for notice in self.visible():
            notice.layout().activate()
            height = max(notice.heightForWidth(width), notice.minimumSizeHint().height(), 32)
            notice.setGeometry(0, y, width, height)
            y += height + self.column.spacing()
        self.setFixedSize(width, max(1, y))
        self.move(self.host.width() - width - 12, 8)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.host and event.type() == QEvent.Resize and self.isVisible():
            self._place()
        return False


class ErrorBanner(QFrame):
    """A message the user must see, above the panes, until the next success or until closed."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self.setProperty("kind", "error")
        self.label = QLabel()
        self.label.setObjectName("errorBannerText")
        self.label.setTextFormat(Qt.PlainText)  # messages quote file names and model output
        self.label.setWordWrap(True)
        self.close_button = _close_button(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 4, 4, 4)
        row.addWidget(self.label, 1)
        row.addWidget(self.close_button, 0, Qt.AlignTop)
        self.hide()

    def text(self) -> str:
        return self.label.text()

    def say(self, message: str, kind: str = "error") -> None:
        """Show message (kind error or warning: red or amber)."""
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        self.label.setText(for_the_window(message))
        self.show()
