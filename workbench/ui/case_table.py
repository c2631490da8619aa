"""The Evaluate view's table of a test set's cases, a row each, that takes rows pasted from a spreadsheet."""

from PySide6.QtCore import Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QApplication, QTableWidget

CASE_COLUMNS = ("Query", "Checks (kind: value | …)", "Ideal answer", "Split")


class CaseTable(QTableWidget):
    """The test set's cases; Ctrl+V pastes rows copied from a spreadsheet.

    Signals:
        pasted(str): the clipboard's text, to become cases.
    """

    pasted = Signal(str)

    def __init__(self):
        super().__init__(0, len(CASE_COLUMNS))
        self.setObjectName("evalCases")
        self.setHorizontalHeaderLabels(CASE_COLUMNS)
        self.horizontalHeader().setStretchLastSection(False)
        self.setColumnWidth(0, 260)
        self.setColumnWidth(1, 200)
        self.setColumnWidth(2, 200)
        self.setColumnWidth(3, 50)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)

    def keyPressEvent(self, event) -> None:
        if event.matches(QKeySequence.Paste) and self.state() != QAbstractItemView.EditingState:
            self.pasted.emit(QApplication.clipboard().text())
            return
        super().keyPressEvent(event)
