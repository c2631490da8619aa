"""The Export dialog: every format with a live preview, copy to the clipboard, save to a file."""

from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from workbench.share.exporters import FORMATS, ExportInput, export, file_name
from workbench.ui.layout import copy_text


def _documents() -> str:
    return QStandardPaths.writableLocation(QStandardPaths.DocumentsLocation) or str(Path.home())


class ExportDialog(QDialog):
    """Args:
        make_input: a callable returning a fresh ExportInput (called on every refresh,
            so the preview follows the prompt as it is edited).
    """

    folder: str | None = None  # where the last export was saved, for the next one

    def __init__(self, make_input, parent=None):
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export prompt")
        self.resize(1000, 640)
        self.make_input = make_input
        self.document_name = ""
        self.formats = QListWidget()
        self.formats.setObjectName("exportFormats")
        self.formats.setMaximumWidth(230)
        for f in FORMATS.values():
            item = QListWidgetItem(f.name)
            item.setToolTip(f.description)
            item.setData(Qt.UserRole, f.name)
            self.formats.addItem(item)
        self.formats.currentRowChanged.connect(lambda _: self.refresh())
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.notes = QLabel()
        self.notes.setObjectName("exportNotes")
        self.notes.setWordWrap(True)  # amber, from the palette (the style sheet's #exportNotes)
        self.preview = QPlainTextEdit()
        self.preview.setObjectName("exportPreview")
        self.preview.setReadOnly(True)
        self.preview.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
        copy = QPushButton("Copy")
        copy.clicked.connect(lambda: copy_text(copy, self.preview.toPlainText(), "the export"))
        save = QPushButton("Save…")
        save.clicked.connect(lambda: self.save())  # not clicked's checked as the path
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch()
        for b in (copy, save, close):
            buttons.addWidget(b)
        right = QVBoxLayout()
        right.addWidget(self.description)
        right.addWidget(self.notes)
        right.addWidget(self.preview, 1)
        right.addLayout(buttons)
        layout = QHBoxLayout(self)
        layout.addWidget(self.formats)
        layout.addLayout(right, 1)
        self.formats.setCurrentRow(0)

    def current_format(self) -> str:
        item = self.formats.currentItem()
        return item.data(Qt.UserRole) if item else "openai"

    def select(self, name: str) -> None:
        self.formats.setCurrentRow(list(FORMATS).index(name))

    def refresh(self) -> None:
        fmt = FORMATS[self.current_format()]
        x: ExportInput = self.make_input()
        result = export(fmt.name, x)
        self.document_name = x.document.name
        self.description.setText(f"<b>{fmt.name}</b>: {fmt.description}")
        self.notes.setText("\n".join(f"• {w}" for w in result.warnings))
        self.notes.setVisible(bool(result.warnings))
        if self.preview.toPlainText() != result.text:
            self.preview.setPlainText(result.text)

    def save(self, path: str | None = None) -> None:
        """Save the preview; the file dialog offers the prompt's name in the folder last saved
        to (at first the Documents folder), as other desktop apps do."""
        if not path:
            suggested = Path(ExportDialog.folder or _documents()) / file_name(self.document_name,
                                                                              self.current_format())
            path, _ = QFileDialog.getSaveFileName(self, "Save export", str(suggested))
        if path:
            Path(path).write_text(self.preview.toPlainText(), encoding="utf-8")
            ExportDialog.folder = str(Path(path).parent)
