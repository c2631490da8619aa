"""The message being typed, kept with its conversation: saved on the draft's cadence, back after a
restart and when its conversation is shown again. Wiring only: the session stores it."""

from contextlib import contextmanager

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QTextCursor

from workbench.errors import WorkbenchError


class UnsentMessage(QObject):
    """Args:
        window: the MainWindow (its session, message box and status bar);
        interval_ms: the autosave delay after typing; retry_ms: the wait before trying again
        while the database cannot take it.
    """

    def __init__(self, window, interval_ms: int, retry_ms: int):
        super().__init__(window)
        self.w, self.retry_ms = window, retry_ms
        self.key: str | None = None  # whose unsent message the box holds
        self.saved = ""  # what is stored under that key
        self._filling = False  # the box is being filled, not typed in
        self.timer = QTimer(self, singleShot=True, interval=interval_ms)
        self.timer.timeout.connect(self.save)
        window.input.textChanged.connect(self._edited)

    @contextmanager
    def filling(self):
        """Changes to the message box inside this are not typing (nothing to save)."""
        self._filling = True
        try:
            yield
        finally:
            self._filling = False

    def _edited(self) -> None:
        if not self._filling and self.w.session.edit_mode is None:
            self.timer.start()

    def save(self) -> None:
        """Store what the box holds under its conversation's key, unless nothing changed or the
        box holds a message being edited; while the database cannot take it, try again later."""
        self.timer.stop()
        self._moved()
        text = self.w.input.toPlainText()
        if self.key is None or self.w.session.edit_mode is not None or text == self.saved:
            return
        try:
            self.w.session.save_unsent(text, self.key)
        except WorkbenchError as e:
            self.w.statusBar().showMessage(f"Message not saved yet: {e}", self.retry_ms)
            self.timer.start(self.retry_ms)
            return
        self.saved = text

    def _moved(self) -> None:
        """The new conversation on screen was stored (its first run): its key is its id now."""
        moved = self.w.session.unsent_moved
        if moved is not None and moved[0] == self.key:
            self.key = moved[1]

    def follow(self) -> None:
        """The box follows the open conversation: what was typed for the one left is kept,
        what was typed for this one comes back."""
        self._moved()
        key = self.w.session.unsent_key()
        if key == self.key:
            return
        self.save()
        self.key = key
        try:
            self.saved = self.w.session.unsent(key)
        except WorkbenchError:
            self.saved = ""  # a database that cannot be read says so elsewhere
        if self.w.session.edit_mode is None:
            with self.filling():
                self.w.input.setPlainText(self.saved)
                self.w.input.moveCursor(QTextCursor.End)
