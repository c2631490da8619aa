"""The system prompt pane: sections, variables, few-shot examples and the composed preview."""

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.prompt.document import Example, PromptDocument, Section
from workbench.ui.budget_bar import BudgetBar


def _tool(text: str, tip: str, slot) -> QToolButton:
    b = QToolButton()
    b.setText(text)
    b.setToolTip(tip)
    b.setAutoRaise(True)
    b.clicked.connect(slot)
    return b


class PromptPanel(QWidget):
    """Edits a PromptDocument in place.

    Signals:
        changed(): the document was edited (the window autosaves a draft).
    """

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.doc = PromptDocument.default()
        self._loading = False

        self.name = QLineEdit()
        self.name.setObjectName("documentName")
        self.name.setPlaceholderText("Prompt name")
        self.name.textEdited.connect(self._name_edited)
        self.budget = BudgetBar()

        self.sections = QListWidget()
        self.sections.setObjectName("sectionList")
        self.sections.setDragDropMode(QAbstractItemView.InternalMove)
        self.sections.setMaximumHeight(150)
        self.sections.currentRowChanged.connect(self._show_section)
        self.sections.itemChanged.connect(self._section_toggled)
        self.sections.model().rowsMoved.connect(self._rows_moved)
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("<b>Sections</b>"))
        buttons.addStretch()
        for text, tip, slot in (("+", "Add a section", self.add_section),
                                ("−", "Remove the section", self.remove_section),
                                ("↑", "Move up", lambda: self.move_section(-1)),
                                ("↓", "Move down", lambda: self.move_section(1))):
            buttons.addWidget(_tool(text, tip, slot))

        self.editor = QPlainTextEdit()
        self.editor.setObjectName("systemPromptEditor")
        self.editor.setPlaceholderText("Write this section of the system prompt. "
                                       "{{date}}, {{model}} and your own {{variables}} are filled in.")
        self.editor.textChanged.connect(self._text_edited)

        self.preview = QPlainTextEdit()
        self.preview.setObjectName("composedPreview")
        self.preview.setReadOnly(True)
        self.variables = QTableWidget(0, 2)
        self.variables.setHorizontalHeaderLabels(["name", "value"])
        self.variables.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.variables.itemChanged.connect(self._tables_edited)
        self.examples = QTableWidget(0, 2)
        self.examples.setObjectName("examplesTable")
        self.examples.setHorizontalHeaderLabels(["user", "ideal answer"])
        self.examples.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.examples.itemChanged.connect(self._tables_edited)
        self.seen = QPlainTextEdit()
        self.seen.setObjectName("modelSeesView")
        self.seen.setReadOnly(True)
        self.seen.setLineWrapMode(QPlainTextEdit.WidgetWidth)
        font = self.seen.font()
        font.setFamily("monospace")
        self.seen.setFont(font)
        self.seen_info = QLabel()
        self.seen_info.setObjectName("modelSeesInfo")
        self.seen_info.setWordWrap(True)  # the reason can be long; never widen the pane
        seen_box = QWidget()
        sv = QVBoxLayout(seen_box)
        sv.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.seen_info, 1)
        row.addWidget(_tool("Copy", "Copy the exact text",
                            lambda: QGuiApplication.clipboard().setText(self.seen.toPlainText())))
        sv.addLayout(row)
        sv.addWidget(self.seen)
        tabs = QTabWidget()
        tabs.addTab(self.preview, "Composed prompt")
        tabs.addTab(seen_box, "What the model sees")
        tabs.addTab(self._with_add_row(self.variables, "Add variable"), "Variables")
        tabs.addTab(self._with_add_row(self.examples, "Add example"), "Examples")
        self.tabs = tabs

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(buttons)
        top_layout.addWidget(self.sections)
        self.section_title = QLabel()
        self.section_title.setObjectName("sectionTitle")
        top_layout.addWidget(self.section_title)
        top_layout.addWidget(self.editor, 1)
        split = QSplitter(Qt.Vertical)
        split.addWidget(top)
        split.addWidget(tabs)
        split.setSizes([420, 260])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        title = QLabel("System prompt")
        title.setObjectName("paneTitle")
        layout.addWidget(title)
        layout.addWidget(self.name)
        layout.addWidget(self.budget)
        layout.addWidget(split, 1)

    def _with_add_row(self, table: QTableWidget, label: str) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        v.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addStretch()
        row.addWidget(_tool("+ " + label, label, lambda: self._add_row(table)))
        row.addWidget(_tool("− Remove", "Remove the selected row", lambda: self._remove_row(table)))
        v.addLayout(row)
        v.addWidget(table)
        return w

    # -- loading a document ---------------------------------------------------

    def set_document(self, doc: PromptDocument) -> None:
        self._loading = True
        self.doc = doc
        self.name.setText(doc.name)
        self.sections.clear()
        for s in doc.sections:
            item = QListWidgetItem(s.name)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable | Qt.ItemIsDragEnabled)
            item.setCheckState(Qt.Checked if s.enabled else Qt.Unchecked)
            self.sections.addItem(item)
        self._fill(self.variables, list(doc.variables.items()))
        self._fill(self.examples, [(e.user, e.assistant) for e in doc.examples])
        self._loading = False
        self.sections.setCurrentRow(0 if doc.sections else -1)
        self._show_section(self.sections.currentRow())

    @staticmethod
    def _fill(table: QTableWidget, rows) -> None:
        table.setRowCount(0)
        for a, b in rows:
            r = table.rowCount()
            table.insertRow(r)
            table.setItem(r, 0, QTableWidgetItem(a))
            table.setItem(r, 1, QTableWidgetItem(b))

    def set_preview(self, text: str) -> None:
        self.preview.setPlainText(text)

    def set_model_view(self, text: str, info: str) -> None:
        """The exact prompt after the chat template or URIAL, special tokens visible."""
        if self.seen.toPlainText() != text:
            self.seen.setPlainText(text)
        self.seen_info.setText(info)

    # -- edits ----------------------------------------------------------------

    def _current(self) -> Section | None:
        row = self.sections.currentRow()
        return self.doc.sections[row] if 0 <= row < len(self.doc.sections) else None

    def _show_section(self, row: int) -> None:
        section = self._current()
        self._loading = True
        self.editor.setPlainText(section.text if section else "")
        self.editor.setEnabled(section is not None)
        self.section_title.setText(f"<b>{section.name}</b>" if section else "")
        self._loading = False

    def _emit(self) -> None:
        if not self._loading:
            self.changed.emit()

    def _name_edited(self, text: str) -> None:
        self.doc.name = text
        self._emit()

    def _text_edited(self) -> None:
        section = self._current()
        if section and not self._loading:
            section.text = self.editor.toPlainText()
            self._emit()

    def _section_toggled(self, item: QListWidgetItem) -> None:
        if self._loading:
            return
        row = self.sections.row(item)
        if 0 <= row < len(self.doc.sections):
            self.doc.sections[row].enabled = item.checkState() == Qt.Checked
            self._emit()

    def _rows_moved(self, *args) -> None:
        by_name = {s.name: s for s in self.doc.sections}
        order = [self.sections.item(i).text() for i in range(self.sections.count())]
        self.doc.sections = [by_name[n] for n in order]
        self._emit()

    def add_section(self, name: str | None = None) -> None:
        if not name:
            name, ok = QInputDialog.getText(self, "Add section", "Section name:")
            if not ok or not name.strip():
                return
        name = name.strip()
        if any(s.name == name for s in self.doc.sections):
            return
        self.doc.sections.append(Section(name, "", True))
        self.set_document(self.doc)
        self.sections.setCurrentRow(len(self.doc.sections) - 1)
        self.changed.emit()

    def remove_section(self) -> None:
        row = self.sections.currentRow()
        if 0 <= row < len(self.doc.sections):
            del self.doc.sections[row]
            self.set_document(self.doc)
            self.sections.setCurrentRow(min(row, len(self.doc.sections) - 1))
            self.changed.emit()

    def move_section(self, step: int) -> None:
        row = self.sections.currentRow()
        to = row + step
        if 0 <= row < len(self.doc.sections) and 0 <= to < len(self.doc.sections):
            s = self.doc.sections
            s[row], s[to] = s[to], s[row]
            self.set_document(self.doc)
            self.sections.setCurrentRow(to)
            self.changed.emit()

    def _add_row(self, table: QTableWidget) -> None:
        table.insertRow(table.rowCount())
        table.setCurrentCell(table.rowCount() - 1, 0)

    def _remove_row(self, table: QTableWidget) -> None:
        if table.currentRow() >= 0:
            table.removeRow(table.currentRow())
            self._tables_edited()

    def _rows(self, table: QTableWidget) -> list[tuple[str, str]]:
        out = []
        for r in range(table.rowCount()):
            a, b = table.item(r, 0), table.item(r, 1)
            a, b = (a.text() if a else ""), (b.text() if b else "")
            if a.strip():
                out.append((a.strip(), b))
        return out

    def _tables_edited(self, *args) -> None:
        if self._loading:
            return
        self.doc.variables = dict(self._rows(self.variables))
        self.doc.examples = [Example(u, a) for u, a in self._rows(self.examples)]
        self._emit()
