"""The window's parts: the conversation pane, the candidates pane, the error banner, docks, menus."""

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workbench.ui.conversation_view import ConversationView
from workbench.ui.outputs_view import OutputsView


def _button(text: str, name: str) -> QPushButton:
    b = QPushButton(text)
    b.setObjectName(name)
    return b


def _titled(title: str, head_extra=()) -> tuple[QWidget, QVBoxLayout]:
    pane = QWidget()
    v = QVBoxLayout(pane)
    v.setContentsMargins(6, 6, 6, 6)
    head = QHBoxLayout()
    label = QLabel(title)
    label.setObjectName("paneTitle")
    head.addWidget(label)
    head.addStretch()
    for w in head_extra:
        head.addWidget(w)
    v.addLayout(head)
    return pane, v


class ConversationPane(QWidget):
    """The accepted messages, the message input, and Send / Stop / Regenerate."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.view = ConversationView()
        self.input = QPlainTextEdit()
        self.input.setObjectName("messageInput")
        self.input.setPlaceholderText("Message… (Ctrl+Enter to send, Esc to stop)")
        self.input.setMaximumHeight(110)
        self.send_button = _button("Send", "sendButton")
        self.send_button.setDefault(True)
        self.stop_button = _button("Stop", "stopButton")
        self.stop_button.setEnabled(False)
        self.regen_button = _button("Regenerate", "regenerateButton")
        self.cancel_edit = QPushButton("Cancel edit")
        self.cancel_edit.hide()
        self.mode_label = QLabel()
        self.mode_label.setObjectName("modeLabel")
        self.mode_label.setStyleSheet("color:#5F6B7A")
        buttons = QHBoxLayout()
        for b in (self.send_button, self.stop_button, self.regen_button, self.cancel_edit):
            buttons.addWidget(b)
        buttons.addStretch()
        buttons.addWidget(self.mode_label)
        pane, v = _titled("Conversation")
        v.addWidget(self.view, 1)
        v.addWidget(self.input)
        v.addLayout(buttons)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(pane)

    def show_editing(self, action: str | None, message_id: int | None = None, text: str = "") -> None:
        """Edit or branch mode on a message (action None: back to sending)."""
        self.cancel_edit.setVisible(action is not None)
        if action is None:
            self.send_button.setText("Send")
            self.mode_label.clear()
            self.input.clear()
            return
        self.input.setPlainText(text)
        self.input.setFocus()
        self.send_button.setText("Save edit" if action == "edit" else "Save as new branch")
        self.mode_label.setText(f"{'Editing' if action == 'edit' else 'Branching from'} message #{message_id}")

    def set_busy(self, busy: bool) -> None:
        self.stop_button.setEnabled(busy)
        self.send_button.setEnabled(not busy)


class CandidatesPane(QWidget):
    """Candidates for the next answer side by side, and what they compare."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.outputs = OutputsView()
        self.compare = QComboBox()
        self.compare.setObjectName("compareCombo")
        self.compare.setToolTip("Several samples of the current prompt, the current draft against "
                                "a saved version of it, or this model against another")
        pane, v = _titled("Candidates for the next answer", (QLabel("Compare:"), self.compare))
        v.addWidget(self.outputs, 1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(pane)

    def set_choices(self, choices: list[tuple[str, object]]) -> None:
        """Replace the compare choices, keeping the current one when it is still there."""
        current = self.compare.currentData()
        self.compare.clear()
        for label, data in choices:
            self.compare.addItem(label, data)
        self.compare.setCurrentIndex(max(self.compare.findData(current), 0))


class ErrorBanner(QLabel):
    """A message the user must see, above the panes, until the next success."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self.setTextFormat(Qt.PlainText)  # messages quote file names and model output
        self.setWordWrap(True)
        self.setStyleSheet("background:#FDECEA;color:#8C1D18;padding:8px;border-radius:4px")
        self.hide()

    def say(self, message: str) -> None:
        self.setText(message)
        self.show()


def add_docks(window: QMainWindow, panels: list[tuple[str, QWidget]]) -> list[QDockWidget]:
    """Panels as docks tabbed together at the bottom, the first one in front."""
    docks = []
    for name, widget in panels:
        dock = QDockWidget(name, window)
        dock.setObjectName(f"{name.lower()}Dock")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        window.addDockWidget(Qt.BottomDockWidgetArea, dock)
        if docks:
            window.tabifyDockWidget(docks[-1], dock)
        docks.append(dock)
    docks[0].raise_()
    return docks


def add_menu(window: QMainWindow, title: str, items) -> None:
    """A menu of (text, shortcut, slot), the shortcuts active anywhere in the window."""
    menu = window.menuBar().addMenu(title)
    for text, key, slot in items:
        action = QAction(text, window)
        action.setShortcut(QKeySequence(key))
        action.triggered.connect(slot)
        menu.addAction(action)
        window.addAction(action)
