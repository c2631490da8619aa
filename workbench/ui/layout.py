"""Small layout helpers the panels share: rows, pages, a width-capped body, a wrapping flow of
widgets and a label that elides."""

from PySide6.QtCore import QPoint, QRect, QSize, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QPainter, QTextDocumentFragment
from PySide6.QtWidgets import QAbstractButton, QHBoxLayout, QLabel, QLayout, QMainWindow, QVBoxLayout, QWidget

COPIED_MS = 1500


def button_row(*buttons) -> QHBoxLayout:
    """Buttons side by side, pushed to the left."""
    row = QHBoxLayout()
    for b in buttons:
        row.addWidget(b)
    row.addStretch()
    return row


def page(main: QWidget, *below) -> QWidget:
    """A tab page: one widget that takes the room, then widgets or layouts under it."""
    w = QWidget()
    v = QVBoxLayout(w)
    v.setContentsMargins(0, 4, 0, 0)
    v.addWidget(main, 1)
    for item in below:
        if isinstance(item, QLayout):
            v.addLayout(item)
        else:
            v.addWidget(item)
    return w


def compact_body(owner: QWidget, max_width: int) -> QWidget:
    """A body of limited width at the left of owner: a form stretched across a wide
    dock is hard to read."""
    body = QWidget()
    body.setMaximumWidth(max_width)
    outer = QHBoxLayout(owner)
    outer.addWidget(body)
    outer.addStretch()
    return body


class FlowLayout(QLayout):
    """Widgets left to right, wrapping onto more rows when the width runs out (Qt's flow layout
    example): a card's buttons stay visible however narrow the card."""

    def __init__(self, parent=None, spacing: int = 4):
        super().__init__(parent)
        self._items = []
        self.setSpacing(spacing)
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, i):
        return self._items[i] if 0 <= i < len(self._items) else None

    def takeAt(self, i):
        return self._items.pop(i) if 0 <= i < len(self._items) else None

    def expandingDirections(self):
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect) -> None:
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:
        return self.minimumSize()

    def minimumSize(self) -> QSize:
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        return size

    def _place(self, rect, move: bool) -> int:
        x, y, row_height, gap = rect.x(), rect.y(), 0, self.spacing()
        for item in self._items:
            if item.widget() is not None and item.widget().isHidden():
                continue
            hint = item.sizeHint()
            if x + hint.width() > rect.right() + 1 and row_height > 0:
                x, y, row_height = rect.x(), y + row_height + gap, 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + gap
            row_height = max(row_height, hint.height())
        return y + row_height - rect.y()


class FlowRow(QWidget):
    """A row of widgets that wraps (see FlowLayout)."""

    def __init__(self, widgets, parent=None):
        super().__init__(parent)
        flow = FlowLayout(self)
        for w in widgets:
            flow.addWidget(w)
        sp = self.sizePolicy()
        sp.setHeightForWidth(True)
        self.setSizePolicy(sp)


class ElidedLabel(QLabel):
    """One line that ends in … when it does not fit (the whole text in its tooltip); text()
    is the whole text."""

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(QTextDocumentFragment.fromHtml(text).toPlainText() if "<" in text else text)

    def minimumSizeHint(self) -> QSize:
        return QSize(20, super().minimumSizeHint().height())

    def paintEvent(self, event) -> None:
        if "<" in self.text():  # rich text (an error in colour) wraps as usual
            super().paintEvent(event)
            return
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        shown = self.fontMetrics().elidedText(self.text(), Qt.ElideRight, self.width())
        painter.drawText(self.rect(), int(Qt.AlignLeft | Qt.AlignVCenter), shown)


def copy_text(widget: QWidget, text: str, what: str) -> None:
    """Put text on the clipboard and say so where the user looks: the window's status bar, or
    (a button in a dialog, which may cover it) the button itself for a moment."""
    QGuiApplication.clipboard().setText(text)
    window = widget.window()
    if isinstance(window, QMainWindow) or not isinstance(widget, QAbstractButton):
        if isinstance(window, QMainWindow):
            window.statusBar().showMessage(f"Copied {what} ({len(text):,} characters).", 4000)
        return
    button = widget
    label = button.property("copyLabel") or button.text()
    button.setProperty("copyLabel", label)
    button.setText("Copied ✓")
    QTimer.singleShot(COPIED_MS, button, lambda: button.setText(label))
