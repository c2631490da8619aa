"""The window's parts: the conversation pane, the candidates pane, docks and menus."""

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.ui.conversation_view import ConversationView
from workbench.ui.layout import ElidedLabel
from workbench.ui.notice import ErrorBanner  # noqa: F401 - where the window's parts are found
from workbench.ui.outputs_view import OutputsView


def _button(text: str, name: str) -> QPushButton:
    b = QPushButton(text)
    b.setObjectName(name)
    return b


def _titled(title: str, head_extra=()) -> tuple[QWidget, QVBoxLayout]:
    pane = QWidget()
    v = QVBoxLayout(pane)
    v.setContentsMargins(6, 4, 6, 4)
    v.setSpacing(4)
    head = QHBoxLayout()
    head.setSpacing(6)
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
        self.input.setMaximumHeight(96)
        self.input.setMinimumHeight(52)
        self.send_button = _button("Send", "sendButton")
        self.send_button.setDefault(True)
        self.stop_button = _button("Stop", "stopButton")
        self.stop_button.setEnabled(False)
        self.regen_button = _button("Regenerate", "regenerateButton")
        self.cancel_edit = _button("Cancel edit", "cancelEditButton")
        self.mode_label = QLabel()
        self.mode_label.setObjectName("modeLabel")
        self.mode_label.setWordWrap(True)  # a narrow pane wraps it rather than squeezing Cancel
        # Editing or branching says so on a row of its own above the box: the buttons row keeps
        # room for "Save as new branch" in the narrowest conversation pane.
        self.edit_bar = QWidget()
        self.edit_bar.setObjectName("editBar")
        bar = QHBoxLayout(self.edit_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.mode_label, 1)
        bar.addWidget(self.cancel_edit)
        self.edit_bar.hide()
        buttons = QHBoxLayout()
        for b in (self.send_button, self.stop_button, self.regen_button):
            buttons.addWidget(b)
        buttons.addStretch()
        pane, v = _titled("Conversation")
        v.addWidget(self.view, 1)
        v.addWidget(self.edit_bar)
        v.addWidget(self.input)
        v.addLayout(buttons)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(pane)

    def show_editing(self, action: str | None, message_id: int | None = None, text: str = "") -> None:
        """Edit or branch mode on a message, its text in the box (action None: back to sending,
        text in the box: what was being typed before)."""
        editing = action is not None
        self.edit_bar.setVisible(editing)
        self.regen_button.setVisible(not editing)  # it answers the last question, not the edit
        self.input.setPlainText(text)
        if not editing:
            self.send_button.setText("Send")
            self.mode_label.clear()
            return
        self.input.setFocus()
        self.input.moveCursor(QTextCursor.End)
        self.send_button.setText("Save edit" if action == "edit" else "Save as new branch")
        self.mode_label.setText(f"{'Editing' if action == 'edit' else 'Branching from'} message #{message_id}")

    def set_busy(self, busy: bool) -> None:
        self.stop_button.setEnabled(busy)
        self.send_button.setEnabled(not busy)


class CandidatesPane(QWidget):
    """Candidates for the next answer in a grid, what they compare, how many, and the vote."""

    def __init__(self, samples: QSpinBox, parent=None):
        super().__init__(parent)
        self.outputs = OutputsView()
        self.compare = QComboBox()
        self.compare.setObjectName("compareCombo")
        self.compare.setToolTip("Several samples of the current prompt, the current draft against "
                                "a saved version of it, or this model against another")
        self.compare.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.compare.setMinimumContentsLength(10)
        self.samples = samples
        samples.setToolTip("How many candidates to sample (seeds seed, seed+1, …)")
        self.vote = QCheckBox("Vote on final answers")
        self.vote.setObjectName("voteSwitch")
        self.vote.setToolTip("Self-consistency: find each candidate's final answer (a marked "
                             "answer, else a short one's last number) and mark the most common. "
                             "Numbers in dates, times and ordinals are not answers; prose has none.")
        self.tally = QLabel()
        self.tally.setObjectName("voteTally")
        self.tally.setTextFormat(Qt.PlainText)
        self.tally.hide()
        # Which question the cards answer: the message box may already hold the next one.
        self.question = ElidedLabel()
        self.question.setObjectName("candidatesQuestion")
        self.back = QToolButton()
        self.back.setObjectName("restoreCandidatesButton")
        self.back.setText("↶ Previous")
        self.back.setToolTip("Bring back the candidates the last run replaced (one step)")
        self.back.setAutoRaise(True)
        self.back.hide()
        self.outputs.previousChanged.connect(self.back.setVisible)
        how_many = QLabel("×")
        how_many.setObjectName("mutedText")
        pane, v = _titled("Candidates", (self.back, QLabel("Compare:"), self.compare, how_many, self.samples))
        options = QHBoxLayout()
        options.setContentsMargins(0, 0, 0, 0)
        options.addWidget(self.vote)
        options.addWidget(self.question, 1)
        options.addWidget(self.tally)
        v.addLayout(options)
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

    def show_question(self, text: str) -> None:
        """Say which question the candidates answer ("" when there are none)."""
        line = " ".join(text.split())
        self.question.setText(f"Answering: {line}" if line else "")

    def show_tally(self, text: str, note: str = "") -> None:
        """The vote's counts ("7 ×3 · 12 ×1"), or a note on why there are none."""
        self.tally.setText(f"Final answers: {text}" if text else note)
        self.tally.setVisible(bool(text or note))


DOCK_FEATURES = (QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable
                 | QDockWidget.DockWidgetClosable)


class LazyDock(QDockWidget):
    """A dock whose content is made the first time it is on screen or asked for (widget()): a view
    opened now and then (Evaluate, the run log) costs the window's start nothing.

    Args:
        title, window: as QDockWidget's; make: () -> the content widget.
    """

    def __init__(self, title: str, window: QMainWindow, make):
        super().__init__(title, window)
        self._make, self._then = make, []
        self.setWidget(_Placeholder(self))

    @property
    def built(self) -> bool:
        return self._make is None

    def widget(self) -> QWidget:
        if self._make is not None:
            make, self._make = self._make, None
            placeholder = super().widget()
            content = make()
            self.setWidget(content)
            if self.isVisible():
                content.show()
            placeholder.deleteLater()
            for then in self._then:
                then(content)
        return super().widget()

    def when_built(self, then) -> None:
        """then(content) once the content is made (now, if it is)."""
        if self._make is None:
            then(super().widget())
        else:
            self._then.append(then)


class _Placeholder(QWidget):
    """What a LazyDock holds until its content is made: painted (its dock is on screen, not behind
    another tab), it has the content made, just after."""

    def __init__(self, dock: LazyDock):
        super().__init__()
        self.dock = dock

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        QTimer.singleShot(0, self.dock, self.dock.widget)


def scrolled(widget: QWidget) -> QScrollArea:
    """widget in a frameless scroll area: a tall form must not make its dock tall."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    return area


def add_docks(window: QMainWindow, panels: list[tuple[str, QWidget, bool]]) -> list[QDockWidget]:
    """Panels as closable docks tabbed together at the bottom, the first one in front
    (scroll: in a scroll area, so the docks can be short)."""
    docks = []
    for name, widget, scroll in panels:
        dock = QDockWidget(name, window)
        dock.setObjectName(f"{name.lower()}Dock")
        dock.setWidget(scrolled(widget) if scroll else widget)
        dock.setFeatures(DOCK_FEATURES)
        window.addDockWidget(Qt.BottomDockWidgetArea, dock)
        if docks:
            window.tabifyDockWidget(docks[-1], dock)
        docks.append(dock)
    docks[0].raise_()
    return docks


def add_menu(window: QMainWindow, title: str, items):
    """A menu of (text, shortcut, slot), the shortcuts active anywhere in the window; None
    items are separators. Returns the menu."""
    menu = window.menuBar().addMenu(title)
    for item in items:
        if item is None:
            menu.addSeparator()
            continue
        text, key, slot = item
        action = QAction(text, window)
        if key:
            action.setShortcut(QKeySequence(key))
        action.triggered.connect(slot)
        menu.addAction(action)
        window.addAction(action)
    return menu


def in_front(dock: QDockWidget) -> bool:
    """Open and on screen: not closed, not behind another dock's tab (Qt still calls a dock
    behind a tab visible; nothing of it is painted)."""
    return dock.isVisible() and not dock.visibleRegion().isEmpty()


def dock_action(window: QMainWindow, menu, dock: QDockWidget, key: str) -> QAction:
    """A View menu entry for a dock: a closed dock opens in front, one open behind another tab
    comes to the front, and only the one in front closes. Checked while the dock is open."""
    action = QAction(dock.windowTitle(), window, checkable=True)
    action.setShortcut(QKeySequence(key))
    action.setShortcutContext(Qt.WindowShortcut)
    action.setObjectName(f"view{dock.objectName()[:1].upper()}{dock.objectName()[1:]}")
    # Qt's own toggle action would close a dock hidden behind a tab: it only follows the state.
    dock.toggleViewAction().toggled.connect(action.setChecked)
    action.setChecked(not dock.isHidden())

    def chosen() -> None:
        if in_front(dock):
            dock.close()
        else:
            dock.show()
            dock.widget()  # asked for: a LazyDock makes its content now
            dock.raise_()
            # A dock just shown is back at its place among the tabs only after the next pass.
            QTimer.singleShot(0, dock, dock.raise_)
        action.setChecked(not dock.isHidden())
    action.triggered.connect(chosen)
    menu.addAction(action)
    window.addAction(action)
    return action
