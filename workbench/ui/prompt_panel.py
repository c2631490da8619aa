"""The system prompt pane: sections, variables, few-shot examples and the composed preview."""

import html

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.prompt.document import BUILT_IN_VARIABLES, Example, PromptDocument, Section, section_hint
from workbench.ui.budget_bar import BudgetBar
from workbench.ui.layout import copy_text


def _tool(text: str, tip: str, slot) -> QToolButton:
    b = QToolButton()
    b.setText(text)
    b.setToolTip(tip)
    b.setAutoRaise(True)
    b.clicked.connect(slot)
    return b


class PromptPanel(QWidget):
    """Edits a PromptDocument in place. The section editor takes the room; the sections sit in a
    compact strip above it, and the composed prompt, what the model sees, variables and examples
    open below it on demand.

    Signals:
        changed(): the document was edited (the window autosaves a draft).
        renamed(str): the document was renamed (only through Rename, never by stray typing).
    """

    changed = Signal()
    renamed = Signal(str)
    PAGES = ("Composed prompt", "What the model sees", "Variables", "Examples")
    PAGE_BUTTONS = ("Composed", "Model sees", "Variables", "Examples")  # short: one row in a narrow column

    def __init__(self, parent=None):
        super().__init__(parent)
        self.doc = PromptDocument.default()
        self._loading = False

        # The name is shown, not typed into: it changes only through Rename (typing meant for
        # the message box once renamed the prompt).
        self.name = QLineEdit()
        self.name.setObjectName("documentName")
        self.name.setPlaceholderText("Prompt name")
        self.name.setReadOnly(True)
        self.name.setFocusPolicy(Qt.NoFocus)
        self.name.setFrame(False)
        self.name.setToolTip("The prompt's name: Rename… to change it")
        self.name.returnPressed.connect(self.finish_rename)
        self.name.editingFinished.connect(self.finish_rename)
        self.rename_button = _tool("Rename…", "Rename this prompt", self.start_rename)
        self.rename_button.setObjectName("renameButton")
        self.budget = BudgetBar()

        self.sections = QListWidget()
        self.sections.setObjectName("sectionList")
        self.sections.setFlow(QListView.LeftToRight)
        self.sections.setWrapping(True)
        self.sections.setResizeMode(QListView.Adjust)
        self.sections.setSpacing(1)
        self.sections.setDragDropMode(QAbstractItemView.InternalMove)
        self.sections.setFixedHeight(50)  # as many rows as the sections need, up to three (fit_sections)
        self.sections.installEventFilter(self)
        self.sections.currentRowChanged.connect(self._show_section)
        self.sections.itemChanged.connect(self._section_toggled)
        self.sections.model().rowsMoved.connect(self._rows_moved)
        self.sections.setToolTip("Tick a section to use it; drag to reorder")
        self.insert_button = QToolButton()
        self.insert_button.setObjectName("insertVariableButton")
        self.insert_button.setText("{{…}}")
        self.insert_button.setToolTip("Insert variable: put {{date}}, {{model}} or one of your "
                                      "variables at the cursor (filled in when the prompt is composed)")
        self.insert_button.setPopupMode(QToolButton.InstantPopup)
        self.insert_button.setAutoRaise(True)
        self.variable_menu = QMenu(self.insert_button)
        self.variable_menu.setObjectName("insertVariableMenu")
        self.variable_menu.aboutToShow.connect(self._fill_variable_menu)
        self.insert_button.setMenu(self.variable_menu)
        # The section tools sit beside the strip, two by two: no row of their own.
        tools = QGridLayout()
        tools.setSpacing(0)
        for n, (text, tip, slot) in enumerate((("+", "Add a section", lambda: self.add_section()),
                                               ("−", "Remove the section", self.remove_section),
                                               ("←", "Move earlier", lambda: self.move_section(-1)),
                                               ("→", "Move later", lambda: self.move_section(1)))):
            tools.addWidget(_tool(text, tip, slot), n // 2, n % 2)
        tools.addWidget(self.insert_button, 0, 2, 2, 1)
        head = QHBoxLayout()
        head.setSpacing(4)
        head.addWidget(self.sections, 1)
        head.addLayout(tools)

        self.editor = QPlainTextEdit()
        self.editor.setObjectName("systemPromptEditor")
        self.editor.textChanged.connect(self._text_edited)
        self.editor.setContextMenuPolicy(Qt.CustomContextMenu)
        self.editor.customContextMenuRequested.connect(self._editor_menu)
        self.section_title = QLabel()
        self.section_title.setObjectName("sectionTitle")
        self.section_title.hide()  # the ticked chip above says which section is open

        self.preview = QPlainTextEdit()
        self.preview.setObjectName("composedPreview")
        self.preview.setReadOnly(True)
        self.variables = QTableWidget(0, 2)
        self.variables.setObjectName("variablesTable")
        self.variables.setHorizontalHeaderLabels(["name", "value"])
        self.variables.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.variables.verticalHeader().setDefaultSectionSize(24)
        self.variables.itemChanged.connect(self._tables_edited)
        self.examples = QTableWidget(0, 2)
        self.examples.setObjectName("examplesTable")
        self.examples.setHorizontalHeaderLabels(["user", "ideal answer"])
        self.examples.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.examples.verticalHeader().setDefaultSectionSize(24)
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
        copy = _tool("Copy", "Copy the exact text", lambda: copy_text(copy, self.seen.toPlainText(),
                                                                     "what the model sees"))
        row.addWidget(copy)
        sv.addLayout(row)
        sv.addWidget(self.seen)
        tabs = QTabWidget()
        tabs.setObjectName("promptTabs")
        tabs.setDocumentMode(True)
        tabs.tabBar().setElideMode(Qt.ElideNone)  # "Variables", never "Varia"
        tabs.tabBar().setUsesScrollButtons(True)
        tabs.addTab(self.preview, self.PAGES[0])
        tabs.addTab(seen_box, self.PAGES[1])
        tabs.addTab(self._with_add_row(self.variables, "Add variable"), self.PAGES[2])
        tabs.addTab(self._with_add_row(self.examples, "Add example"), self.PAGES[3])
        close = _tool("×", "Close (the editor gets the room back)", self.hide_pages)
        close.setObjectName("closePromptTabs")
        tabs.setCornerWidget(close, Qt.TopRightCorner)
        tabs.hide()
        self.tabs = tabs
        # Buttons that open those pages under the editor, in the same column.
        self.page_buttons = []
        toggles = QHBoxLayout()
        toggles.setSpacing(2)
        for i, text in enumerate(self.PAGE_BUTTONS):
            b = QToolButton()
            b.setText(text)
            b.setToolTip(f"Show or hide “{self.PAGES[i]}” under the editor")
            b.setMinimumWidth(b.sizeHint().width())  # never "Mod…ees"
            b.setObjectName(f"showPage{i}")
            b.setCheckable(True)
            b.setAutoRaise(True)
            b.clicked.connect(lambda on, i=i: self.show_page(i) if on else self.hide_pages())
            self.page_buttons.append(b)
            toggles.addWidget(b)
        toggles.addStretch()
        tabs.currentChanged.connect(self._sync_toggles)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.setSpacing(3)
        top_layout.addLayout(head)
        top_layout.addWidget(self.editor, 1)
        self.under_editor = QVBoxLayout()  # the cache status goes here
        self.under_editor.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(self.under_editor)
        top_layout.addLayout(toggles)
        self.split = QSplitter(Qt.Vertical)
        self.split.setObjectName("promptSplitter")
        self.split.setChildrenCollapsible(False)
        self.split.addWidget(top)
        self.split.addWidget(tabs)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(3)
        name_row = QHBoxLayout()
        title = QLabel("System prompt")
        title.setObjectName("paneTitle")
        name_row.addWidget(title)
        name_row.addWidget(self.name, 1)
        name_row.addWidget(self.rename_button)
        layout.addLayout(name_row)
        layout.addWidget(self.budget)
        layout.addWidget(self.split, 1)

    MAX_SECTION_ROWS = 3

    def eventFilter(self, obj, event) -> bool:
        if obj is self.sections and event.type() == QEvent.Resize:
            QTimer.singleShot(0, self.fit_sections)
        return super().eventFilter(obj, event)

    def fit_sections(self) -> None:
        """The section strip as tall as its rows of chips (three at most; more scroll)."""
        n = self.sections.count()
        if not n:
            return
        row = self.sections.visualItemRect(self.sections.item(0)).height() + 2 * self.sections.spacing()
        tops = {self.sections.visualItemRect(self.sections.item(i)).top() for i in range(n)}
        rows = min(len(tops), self.MAX_SECTION_ROWS)
        height = rows * row + 2 * self.sections.frameWidth() + 2
        if height != self.sections.height():
            self.sections.setFixedHeight(height)

    # -- on demand: the composed prompt, what the model sees, variables, examples ---------

    def show_page(self, i: int) -> None:
        """Open page i under the editor (the editor keeps most of the column)."""
        self.tabs.setCurrentIndex(i)
        if not self.tabs.isVisible():
            self.tabs.show()
            total = sum(self.split.sizes()) or self.height()
            self.split.setSizes([int(total * 0.68), total - int(total * 0.68)])
        self._sync_toggles()

    def hide_pages(self) -> None:
        self.tabs.hide()
        self._sync_toggles()

    def _sync_toggles(self, *args) -> None:
        shown = self.tabs.isVisibleTo(self)
        for i, b in enumerate(self.page_buttons):
            b.setChecked(shown and self.tabs.currentIndex() == i)

    # -- renaming -------------------------------------------------------------

    def start_rename(self) -> None:
        self.name.setReadOnly(False)
        self.name.setFrame(True)
        self.name.setFocusPolicy(Qt.StrongFocus)
        self.name.setFocus()
        self.name.selectAll()

    def finish_rename(self) -> None:
        if self.name.isReadOnly():
            return
        self.name.setReadOnly(True)
        self.name.setFrame(False)
        self.name.setFocusPolicy(Qt.NoFocus)
        text = " ".join(self.name.text().split())
        if not text:
            self.name.setText(self.doc.name)
            return
        if text != self.doc.name:
            self.doc.name = text
            self.name.setText(text)
            self.renamed.emit(text)
            self._emit()
        self.name.setCursorPosition(0)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key_Escape and not self.name.isReadOnly():
            self.name.setText(self.doc.name)  # Esc cancels the rename
            self.finish_rename()
            return
        super().keyPressEvent(event)

    # -- inserting variables ----------------------------------------------------

    def _fill_variable_menu(self) -> None:
        self.variable_menu.clear()
        tips = {"date": "today's date, e.g. 2026-11-23", "model": "the loaded model's name"}
        names = list(BUILT_IN_VARIABLES) + [n for n in self.doc.variables if n not in BUILT_IN_VARIABLES]
        for name in names:
            tip = tips.get(name) or f"your variable, now “{self.doc.variables.get(name, '')}”"
            action = self.variable_menu.addAction(f"{{{{{name}}}}}  —  {tip}")
            action.triggered.connect(lambda _=False, n=name: self.insert_variable(n))
        self.variable_menu.addSeparator()
        self.variable_menu.addAction("New variable…").triggered.connect(lambda: self.show_page(2)
                                                                       or self._add_row(self.variables))

    def _editor_menu(self, pos) -> None:
        menu = self.editor.createStandardContextMenu()
        menu.addSeparator()
        sub = menu.addMenu("Insert variable")
        self._fill_variable_menu()
        for action in self.variable_menu.actions():
            sub.addAction(action)
        menu.exec(self.editor.mapToGlobal(pos))

    def insert_variable(self, name: str) -> None:
        """Put {{name}} at the editor's cursor."""
        if not self.editor.isEnabled():
            return
        self.editor.insertPlainText("{{" + name + "}}")
        self.editor.setFocus()

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
        self.name.setCursorPosition(0)  # a long name shows its beginning, not its end
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
        QTimer.singleShot(0, self.fit_sections)

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
        self.editor.setPlaceholderText(section_hint(section.name) if section else
                                       "Add a section with + to start writing.")
        self.section_title.setText(f"<b>{html.escape(section.name)}</b>" if section else "")
        self._loading = False

    def _emit(self) -> None:
        if not self._loading:
            self.changed.emit()

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
        """A new row, its first cell open for typing."""
        table.insertRow(table.rowCount())
        row = table.rowCount() - 1
        table.setItem(row, 0, QTableWidgetItem(""))
        table.setItem(row, 1, QTableWidgetItem(""))
        table.setCurrentCell(row, 0)
        table.setFocus()
        table.editItem(table.item(row, 0))

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
