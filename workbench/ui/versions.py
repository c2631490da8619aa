"""Prompt versions in the window: the version list, the note asked on saving, a side-by-side diff
of any two of versions and the draft (versionDiff), restoring into the draft, and answering with
a version. Layout and wiring: the logic is chat.library."""

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QPalette,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.chat.library import DRAFT, DiffRow, Library, diff_summary, one_line, side_by_side, when
from workbench.errors import WorkbenchError
from workbench.ui import palette

ID = Qt.UserRole
DETAIL = Qt.UserRole + 1
GUTTER = 6  # characters of line number and space before each line of a diff side
FOLLOW_MS = 300


class TwoLineDelegate(QStyledItemDelegate):
    """An item's text on the first line and its DETAIL below, in the palette's muted colour."""

    def paint(self, painter, option, index) -> None:
        self.initStyleOption(option, index)
        title, detail = option.text, index.data(DETAIL) or ""
        option.text = ""
        widget = option.widget
        widget.style().drawControl(QStyle.CE_ItemViewItem, option, painter, widget)
        r = option.rect.adjusted(8, 3, -6, -3)
        fm = option.fontMetrics
        group = QPalette.Active if option.state & QStyle.State_Active else QPalette.Inactive
        selected = bool(option.state & QStyle.State_Selected)
        painter.save()
        painter.setFont(option.font)
        painter.setPen(option.palette.color(group, QPalette.HighlightedText if selected else QPalette.Text))
        painter.drawText(r, Qt.AlignLeft | Qt.AlignTop, fm.elidedText(title, Qt.ElideRight, r.width()))
        painter.setPen(option.palette.color(group, QPalette.PlaceholderText))
        painter.drawText(r.adjusted(0, fm.height() + 1, 0, 0), Qt.AlignLeft | Qt.AlignTop,
                         fm.elidedText(detail, Qt.ElideRight, r.width()))
        painter.restore()

    def sizeHint(self, option, index) -> QSize:
        return QSize(0, 2 * option.fontMetrics.height() + 8)  # as wide as the list: elided


# -- the note asked for when saving a version ------------------------------------------


class VersionNoteDialog(QDialog):
    """Asks what changed in the version about to be saved (objectName versionNoteDialog)."""

    def __init__(self, number: int, name: str, parent=None):
        super().__init__(parent)
        self.setObjectName("versionNoteDialog")
        self.setWindowTitle(f"Save version {number}")
        self.note = QLineEdit()
        self.note.setObjectName("versionNote")
        self.note.setPlaceholderText("e.g. shorter role, added a refusal rule (optional)")
        buttons = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        v = QVBoxLayout(self)
        v.addWidget(QLabel(f"Version {number} of “{name}”: what changed?"))
        v.addWidget(self.note)
        v.addWidget(buttons)
        self.setMinimumWidth(420)


def ask_version_note(window) -> str | None:
    """The note for the version window.save_version is about to make ("" for none), or None:
    cancelled, or nothing changed since the newest version (the user is told)."""
    s = window.session
    latest = s.ws.prompts.latest(s.document_id)
    if latest is not None and latest.document.content_hash() == s.document.content_hash():
        window.notify(f"Nothing changed since version {latest.number}, so no new version was made.",
                      "info")
        return None
    dialog = VersionNoteDialog((latest.number if latest else 0) + 1, s.document.name, window)
    accepted = dialog.exec() == QDialog.Accepted
    note = " ".join(dialog.note.text().split())
    dialog.deleteLater()
    return note if accepted else None


# -- the side-by-side diff ---------------------------------------------------------------


def _mono() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.FixedFont)


def _colour(name: str, alpha: int = 255) -> QColor:
    colour = QColor(palette.c(name))
    colour.setAlpha(alpha)
    return colour


class VersionDiff(QWidget):
    """Two prompt texts side by side, lines aligned, changed lines tinted and the changed
    characters within them marked (objectName versionDiff).

    Args:
        library: the Library; doc_id: the document; draft: callable giving the current draft.

    Attributes:
        rows: the DiffRows shown.
    """

    def __init__(self, library: Library, doc_id: int, draft, parent=None):
        super().__init__(parent)
        self.setObjectName("versionDiff")
        self.library, self.doc_id, self.draft = library, doc_id, draft
        self.rows: list[DiffRow] = []
        self._realign = QTimer(self)
        self._realign.setSingleShot(True)
        self._realign.setInterval(0)
        self._realign.timeout.connect(self.align)
        self.left_choice, self.right_choice = QComboBox(), QComboBox()
        self.left_choice.setObjectName("versionDiffLeft")
        self.right_choice.setObjectName("versionDiffRight")
        swap = QToolButton()
        swap.setText("⇄")
        swap.setToolTip("Swap the sides")
        swap.setAutoRaise(True)
        swap.clicked.connect(self.swap)
        self.summary = QLabel()
        self.summary.setObjectName("versionDiffSummary")
        self.left_label, self.right_label = QLabel(), QLabel()
        for label in (self.left_label, self.right_label):
            label.setObjectName("mutedText")
        self.left_view = self._view("versionDiffLeftText")
        self.right_view = self._view("versionDiffRightText")
        top = QHBoxLayout()
        top.addWidget(self.left_choice, 1)
        top.addWidget(swap)
        top.addWidget(self.right_choice, 1)
        sides = QSplitter(Qt.Horizontal)
        for label, view in ((self.left_label, self.left_view), (self.right_label, self.right_view)):
            side = QWidget()
            v = QVBoxLayout(side)
            v.setContentsMargins(0, 0, 0, 0)
            v.addWidget(label)
            v.addWidget(view, 1)
            sides.addWidget(side)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(top)
        outer.addWidget(self.summary)
        outer.addWidget(sides, 1)
        for a, b in ((self.left_view, self.right_view), (self.right_view, self.left_view)):
            a.verticalScrollBar().valueChanged.connect(b.verticalScrollBar().setValue)
            a.horizontalScrollBar().valueChanged.connect(b.horizontalScrollBar().setValue)
        self.fill_choices()
        self.left_choice.currentIndexChanged.connect(self.show_diff)
        self.right_choice.currentIndexChanged.connect(self.show_diff)
        palette.THEME.changed.connect(self.show_diff)

    def _view(self, name: str) -> QTextEdit:
        # Long lines wrap (a prompt's paragraph is one line: a change at its end would be off
        # screen); align() keeps each row as tall on both sides, so rows stay side by side.
        view = QTextEdit()
        view.setObjectName(name)
        view.setReadOnly(True)
        view.setAcceptRichText(False)
        view.setLineWrapMode(QTextEdit.WidgetWidth)
        view.setFont(_mono())
        view.viewport().installEventFilter(self)
        return view

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Resize:  # rewrapped: rows change height
            self._realign.start()
        return False

    def align(self) -> None:
        """Give each row the height of its taller side (a bottom margin on the shorter one)."""
        views = (self.left_view, self.right_view)
        docs = [v.document() for v in views]
        count = min(d.blockCount() for d in docs)
        heights = []
        for i in range(count):
            pair = []
            for doc in docs:
                block = doc.findBlockByNumber(i)
                margin = block.blockFormat().bottomMargin()
                pair.append(doc.documentLayout().blockBoundingRect(block).height() - margin)
            heights.append(pair)
        for i, pair in enumerate(heights):
            tallest = max(pair)
            for doc, height in zip(docs, pair):
                block = doc.findBlockByNumber(i)
                if abs(block.blockFormat().bottomMargin() - (tallest - height)) > 0.5:
                    fmt = block.blockFormat()
                    fmt.setBottomMargin(tallest - height)
                    QTextCursor(block).setBlockFormat(fmt)

    def fill_choices(self) -> None:
        """The draft and the versions to choose from; the sides chosen stay (the library refreshes
        while the dialog is open, e.g. after each answer)."""
        for combo in (self.left_choice, self.right_choice):
            chosen = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("Current draft", DRAFT)
            for v in self.library.versions(self.doc_id):
                note = f" · {one_line(v.note, 40)}" if v.note else ""
                combo.addItem(f"Version {v.number}{note} · {when(v.created)}", v.number)
            combo.setCurrentIndex(max(0, combo.findData(chosen)))
            combo.blockSignals(False)

    def set_sides(self, left, right) -> None:
        """Compare left with right: each a version number or DRAFT."""
        for combo, side in ((self.left_choice, left), (self.right_choice, right)):
            combo.blockSignals(True)
            combo.setCurrentIndex(max(0, combo.findData(side)))
            combo.blockSignals(False)
        self.show_diff()

    def swap(self) -> None:
        self.set_sides(self.right_choice.currentData(), self.left_choice.currentData())

    def show_diff(self, *_) -> None:
        left, right = self.left_choice.currentData(), self.right_choice.currentData()
        if left is None or right is None:
            return
        try:
            (l_label, l_text), (r_label, r_text) = (self.library.side_text(self.doc_id, side, self.draft())
                                                    for side in (left, right))
        except WorkbenchError as e:
            self.summary.setText(str(e))
            return
        self.left_label.setText(l_label)
        self.right_label.setText(r_label)
        self.rows = side_by_side(l_text, r_text)
        self.summary.setText(diff_summary(self.rows))
        self._render(self.left_view, [(r.tag, r.left, r.left_spans) for r in self.rows], "error")
        self._render(self.right_view, [(r.tag, r.right, r.right_spans) for r in self.rows], "success")
        self.align()

    def _render(self, view: QTextEdit, lines, tint: str) -> None:
        """Aligned lines (a gap where this side has none), changed lines tinted with the
        palette's tint_bg, the changed characters marked in tint itself."""
        number, texts = 0, []
        for _, line, _ in lines:
            if line is None:
                texts.append("")
            else:
                number += 1
                texts.append(f"{number:>{GUTTER - 2}}  {line}")
        view.setPlainText("\n".join(texts))
        hang = QTextBlockFormat()  # a wrapped line continues after the line numbers, not under them
        gutter = view.fontMetrics().horizontalAdvance(" " * GUTTER)
        hang.setLeftMargin(gutter)
        hang.setTextIndent(-gutter)
        everything = QTextCursor(view.document())
        everything.select(QTextCursor.Document)
        everything.mergeBlockFormat(hang)
        line_bg, gap_bg = _colour(f"{tint}_bg"), _colour("sunken")
        gutter_fmt = QTextCharFormat()
        gutter_fmt.setForeground(self.palette().color(QPalette.PlaceholderText))
        marked = QTextCharFormat()
        marked.setBackground(_colour(tint, 80))
        marked.setFontWeight(QFont.Bold)
        selections = []
        doc = view.document()
        for i, (tag, line, spans) in enumerate(lines):
            block = doc.findBlockByNumber(i)
            if line is not None:
                selections.append(self._selection(view, block.position(), GUTTER, gutter_fmt))
            if tag == "equal":
                continue
            whole = QTextEdit.ExtraSelection()
            whole.format.setBackground(gap_bg if line is None else line_bg)
            whole.format.setProperty(QTextFormat.FullWidthSelection, True)
            whole.cursor = QTextCursor(block)
            selections.append(whole)
            tinted = QTextBlockFormat()  # the selection tints a block's first line; this, all of it
            tinted.setBackground(gap_bg if line is None else line_bg)
            QTextCursor(block).mergeBlockFormat(tinted)
            for a, b in spans:
                selections.append(self._selection(view, block.position() + GUTTER + a, b - a, marked))
        view.setExtraSelections(selections)

    @staticmethod
    def _selection(view, start: int, length: int, fmt: QTextCharFormat) -> QTextEdit.ExtraSelection:
        sel = QTextEdit.ExtraSelection()
        cursor = QTextCursor(view.document())
        cursor.setPosition(start)
        cursor.setPosition(start + length, QTextCursor.KeepAnchor)
        sel.cursor, sel.format = cursor, fmt
        return sel


class VersionDiffDialog(QDialog):
    """The diff in its own window, with restoring the left side into the draft."""

    def __init__(self, panel: "VersionsPanel", left, right, parent=None):
        super().__init__(parent)
        self.setObjectName("versionDiffDialog")
        self.setWindowTitle("Compare prompt versions")
        s = panel.w.session
        self.diff = VersionDiff(panel.library, s.document_id, lambda: s.document, self)
        self.restore_button = QPushButton("Restore the left version into the draft")
        self.restore_button.setObjectName("restoreLeftButton")
        self.restore_button.clicked.connect(
            lambda: panel.restore_into_draft(self.diff.left_choice.currentData()))
        self.diff.left_choice.currentIndexChanged.connect(self._can_restore)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.restore_button)
        buttons.addStretch()
        buttons.addWidget(close)
        v = QVBoxLayout(self)
        v.addWidget(self.diff, 1)
        v.addLayout(buttons)
        self.diff.set_sides(left, right)
        self._can_restore()

    def _can_restore(self, *_) -> None:
        self.restore_button.setEnabled(self.diff.left_choice.currentData() != DRAFT)


# -- the version list ----------------------------------------------------------------------


class VersionsPanel(QWidget):
    """The open document's versions (versionList), newest first, with compare, restore into
    the draft and answer with a version.

    Args:
        window: the MainWindow; library: the Library.

    Signals:
        draftReplaced(): a version was restored into the draft (or that was undone).
    """

    draftReplaced = Signal()

    def __init__(self, window, library: Library, parent=None):
        super().__init__(parent)
        self.w, self.library = window, library
        self.dialog: VersionDiffDialog | None = None
        # An open diff against the draft follows the typing, a moment after it pauses.
        self.follow = QTimer(self, singleShot=True, interval=FOLLOW_MS)
        self.follow.timeout.connect(self._follow_draft)
        window.prompt.changed.connect(self.follow.start)
        self.list = QListWidget()
        self.list.setObjectName("versionList")
        self.list.setItemDelegate(TwoLineDelegate(self.list))
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.list.setUniformItemSizes(True)
        self.list.itemActivated.connect(lambda item: self.compare(item.data(ID), DRAFT))
        self.list.itemDoubleClicked.connect(lambda item: self.compare(item.data(ID), DRAFT))
        self.list.setContextMenuPolicy(Qt.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.currentItemChanged.connect(self._enable)
        save = QToolButton()
        save.setObjectName("saveVersionButton")
        save.setText("Save…")
        save.setToolTip("Save the draft as a new version, with a note (Ctrl+S)")
        save.setAutoRaise(True)
        save.clicked.connect(self.save_with_note)
        self.compare_button = self._button("Diff", "compareVersionButton",
                                           "Compare side by side with the draft (double-click a version)",
                                           lambda: self.compare(self.selected(), DRAFT))
        self.restore_button = self._button("Restore", "restoreVersionButton",
                                           "Put this version into the draft (undo brings the draft back)",
                                           lambda: self.restore_into_draft(self.selected()))
        self.answer_button = self._button("Answer", "answerWithVersionButton",
                                          "Answer with this version: the candidates compare the "
                                          "draft with it",
                                          lambda: self.answer_with(self.selected()))
        self.state = QLabel()
        self.state.setObjectName("draftState")
        self.state.setForegroundRole(QPalette.PlaceholderText)  # muted, in light and dark
        self.state.setToolTip("Whether the draft has changes that no version holds yet")
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Versions")
        title.setObjectName("paneTitle")
        head.addWidget(title)
        head.addStretch()
        head.addWidget(save)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for b in (self.compare_button, self.restore_button, self.answer_button):
            buttons.addWidget(b)
        buttons.addStretch()
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addLayout(head)
        v.addWidget(self.state)
        v.addWidget(self.list, 1)
        v.addLayout(buttons)
        self._enable()

    @staticmethod
    def _button(text: str, name: str, tip: str, slot) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setObjectName(name)
        b.setToolTip(tip)
        b.clicked.connect(slot)
        return b

    def show_state(self) -> None:
        """ "Draft: unsaved changes since v3", or that it is the same as v3."""
        s = self.w.session
        latest = s.ws.prompts.latest(s.document_id)
        if latest is None:
            self.state.setText("Draft: not saved as a version yet")
        elif latest.document.content_hash() == s.document.content_hash():
            self.state.setText(f"Draft: the same as v{latest.number}")
        else:
            self.state.setText(f"Draft: unsaved changes since v{latest.number}")

    def _follow_draft(self) -> None:
        self.show_state()
        d = self.dialog
        if d is not None and d.isVisible() and DRAFT in (d.diff.left_choice.currentData(),
                                                         d.diff.right_choice.currentData()):
            d.diff.show_diff()

    def save_with_note(self) -> bool:
        """Ask for the note, then save the draft as a version (what Ctrl+S is bound to)."""
        note = ask_version_note(self.w)
        if note is None:
            return False
        self.w.save_version(note)
        self.refresh()
        return True

    def refresh(self) -> None:
        current = self.selected()
        if current is not None and self.list.count() and current == self.list.item(0).data(ID):
            current = None  # the newest was chosen: after a new version, the new newest is
        self.list.clear()
        for v in self.library.versions(self.w.session.document_id):
            item = QListWidgetItem(f"v{v.number} · {when(v.created)}")
            item.setData(ID, v.number)
            item.setData(DETAIL, one_line(v.note, 80) or "no note")
            item.setToolTip(v.note or f"Version {v.number}")
            self.list.addItem(item)
            if v.number == current:
                self.list.setCurrentItem(item)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(0)  # the newest: the buttons work at once
        if self.dialog is not None:
            self.dialog.diff.fill_choices()
        self.show_state()
        self._enable()

    def selected(self) -> int | None:
        item = self.list.currentItem()
        return item.data(ID) if item is not None else None

    def _enable(self, *_) -> None:
        chosen = self.selected() is not None
        for b in (self.compare_button, self.restore_button, self.answer_button):
            b.setEnabled(chosen)

    def _menu(self, pos) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        number = item.data(ID)
        menu = QMenu(self)
        menu.addAction("Compare with the draft", lambda: self.compare(number, DRAFT))
        if number > 1:
            menu.addAction(f"Compare with version {number - 1}", lambda: self.compare(number - 1, number))
        menu.addSeparator()
        menu.addAction("Restore into the draft", lambda: self.restore_into_draft(number))
        menu.addAction("Answer with this version", lambda: self.answer_with(number))
        menu.exec(self.list.viewport().mapToGlobal(pos))

    def compare(self, left, right=DRAFT) -> VersionDiffDialog | None:
        """Open the diff of left against right (version numbers or DRAFT)."""
        if left is None:
            return None
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = VersionDiffDialog(self, left, right, self.w)
        size = self.w.size()
        self.dialog.resize(max(640, int(size.width() * 0.85)), max(420, int(size.height() * 0.8)))
        self.dialog.show()
        return self.dialog

    def restore_into_draft(self, number) -> bool:
        """Version number becomes the draft; the notice's Undo brings the draft back."""
        w, s = self.w, self.w.session
        if number is None or number == DRAFT:
            return False
        try:
            doc = self.library.version_into_draft(s.document_id, number, s.document)
        except WorkbenchError as e:
            w.notify(str(e), "error")
            return False
        doc_id, previous = s.document_id, s.document
        self._replace_draft(doc_id, doc)
        w.notify(f"Version {number} is now the draft.", "success",
                 action=("Undo", lambda: self._replace_draft(doc_id, previous)))
        return True

    def _replace_draft(self, doc_id: int, doc) -> None:
        w, s = self.w, self.w.session
        if s.document_id != doc_id:  # another prompt was opened since: put it back in the store
            s.ws.prompts.save_draft(doc_id, doc)
            return
        s.document = doc
        w.document_opened()
        w.save_draft()
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.diff.show_diff()
        self.draftReplaced.emit()

    def answer_with(self, number) -> bool:
        """The candidates compare the draft with version number: now, for the question on
        screen, or for the next one."""
        w, s = self.w, self.w.session
        if number is None:
            return False
        index = w.compare.findData(number)
        if index < 0:
            w.refresh_compare()
            index = w.compare.findData(number)
        if index < 0:
            w.notify(f"Version {number} cannot be compared here.", "error")
            return False
        w.compare.setCurrentIndex(index)
        pending = s.pending
        if pending is not None and pending.kind != "rerun" and not w.generating:
            w.generation.run(pending)
        else:
            w.notify(f"The next answers compare the draft with version {number}.", "info")
            w.input.setFocus()
        return True
