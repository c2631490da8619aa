"""The notebook panel: search lessons as you type, see which are in the prompt, add and curate."""

import html
import json

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAbstractTextDocumentLayout, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.errors import WorkbenchError
from workbench.notebook.lessons import HIGHLIGHT, Notebook
from workbench.notebook.proposals import ProposalStore
from workbench.ui.layout import button_row, page
from workbench.ui.notice import AUTO_HIDE_MS
from workbench.ui.palette import c

TEXT_COLUMN = 1
# Who wrote a lesson (notebook.lessons.SOURCES) and where a proposal came from, in plain words.
SOURCE_WORDS = {"user": "you", "model": "a model", "tasks": "a test set"}
SOURCE_TIPS = {"user": "Written by you", "model": "Phrased by a model",
               "tasks": "Built from a test set's checks and ideal answers"}
ORIGIN_WORDS = {"rating": "a bad rating", "correction": "your correction", "tasks": "a test set"}


def _count(value) -> int:
    return len(value) if isinstance(value, list) else value if isinstance(value, int) else 0


def effect_text(evidence) -> str:
    """A proposal's evidence (dict or JSON of a Candidate's figures) in words; "" without it."""
    if isinstance(evidence, str):
        try:
            evidence = json.loads(evidence)
        except ValueError:
            return ""
    if not isinstance(evidence, dict):
        return ""
    before, after, total = (evidence.get(k) for k in ("train_before", "train_after", "train_total"))
    if not all(isinstance(v, int) for v in (before, after, total)):
        return ""
    return (f"train questions passed {before} → {after} of {total} "
            f"({_count(evidence.get('gained'))} more, {_count(evidence.get('lost'))} lost)")


def highlight_html(snippet: str) -> str:
    """Snippet markers -> bold highlighted HTML, with the lesson text itself escaped."""
    start, end = HIGHLIGHT
    out, rest = [], snippet
    while start in rest and end in rest.split(start, 1)[1]:
        before, after = rest.split(start, 1)
        hit, rest = after.split(end, 1)
        out.append(html.escape(before))
        out.append(f'<b style="background:{c("hit")}">{html.escape(hit)}</b>')
    out.append(html.escape(rest))
    return "".join(out)


class HtmlDelegate(QStyledItemDelegate):
    """Paints a column's text as rich text (for highlighted search hits)."""

    @staticmethod
    def _doc(html_text: str, width: float) -> QTextDocument:
        doc = QTextDocument()
        doc.setDocumentMargin(2)  # a one-line lesson is one line tall
        doc.setHtml(html_text)
        doc.setTextWidth(width)
        return doc

    def paint(self, painter, option, index):
        self.initStyleOption(option, index)
        doc = self._doc(option.text, option.rect.width())
        option.text = ""
        option.widget.style().drawControl(QStyle.CE_ItemViewItem, option, painter, option.widget)
        painter.save()
        # Centred vertically, like the plain-text columns beside it.
        dy = max(0.0, (option.rect.height() - doc.size().height()) / 2)
        painter.translate(option.rect.left(), option.rect.top() + dy)
        ctx = QAbstractTextDocumentLayout.PaintContext()
        selected = bool(option.state & QStyle.State_Selected)
        ctx.palette.setColor(QPalette.Text, option.palette.color(
            QPalette.HighlightedText if selected else QPalette.Text))  # dark mode too
        doc.documentLayout().draw(painter, ctx)
        painter.restore()

    def sizeHint(self, option, index):
        self.initStyleOption(option, index)
        view = option.widget
        # The column's real width (option.rect is empty here): wrapping at a guess made
        # one-line lessons three lines tall.
        width = view.columnWidth(index.column()) if hasattr(view, "columnWidth") else option.rect.width()
        doc = self._doc(option.text, max(width, 120))
        return QSize(int(doc.idealWidth()), int(doc.size().height()) + 2)


class NotebookPanel(QWidget):
    """Args:
        notebook: the Notebook to show and change; proposals: lessons waiting for review.

    Signals:
        changed(): lessons changed (the prompt preview and budget must update).
    """

    changed = Signal()

    def __init__(self, notebook: Notebook, proposals: ProposalStore, parent=None):
        super().__init__(parent)
        self.setObjectName("notebookPanel")
        self.notebook = notebook
        self.proposals = proposals
        self.in_prompt: set[int] = set()
        self.retrieved: set[int] = set()
        self._pending_duplicate: int | None = None

        self.search = QLineEdit()
        self.search.setObjectName("notebookSearch")
        self.search.setPlaceholderText("Search lessons (Ctrl+F)…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.refresh)

        self.list = QTreeWidget()
        self.list.setObjectName("lessonList")
        self.list.setHeaderLabels(["#", "lesson", "tags", "source", "+/−", "in prompt"])
        self.list.setRootIsDecorated(False)
        self.list.setItemDelegateForColumn(TEXT_COLUMN, HtmlDelegate(self.list))
        self.list.setWordWrap(True)
        self.list.setMinimumHeight(60)
        header = self.list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(TEXT_COLUMN, QHeaderView.Stretch)
        for col in (0, 2, 3, 4, 5):
            header.setSectionResizeMode(col, QHeaderView.ResizeToContents)
        self.list.currentItemChanged.connect(self._selected)

        self.text = QLineEdit()
        self.text.setObjectName("lessonText")
        self.text.setPlaceholderText("When <situation>, <do this>.")
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("tags, comma separated")
        self.tags.setMaximumWidth(180)
        self.add_button = QPushButton("Add")
        self.add_button.setObjectName("addLessonButton")
        self.add_button.clicked.connect(lambda: self.add())  # not clicked's checked as force
        self.save_button = QPushButton("Save edit")
        self.save_button.clicked.connect(self.save_edit)
        self.pin_button = QPushButton("Pin")
        self.pin_button.setObjectName("pinLessonButton")
        self.pin_button.clicked.connect(self.toggle_pin)
        self.retire_button = QPushButton("Retire")
        self.retire_button.clicked.connect(self.retire)
        self.message = QLabel()
        self.message.setObjectName("notebookMessage")
        self.message.setWordWrap(True)
        self.message.hide()
        self._forget = QTimer(self, singleShot=True)
        self._forget.timeout.connect(lambda: self.message.hide())
        self.merge_button = QPushButton("Merge into it")
        self.merge_button.clicked.connect(self.merge_pending)
        self.force_button = QPushButton("Add anyway")
        self.force_button.clicked.connect(lambda: self.add(force=True))
        for b in (self.merge_button, self.force_button):
            b.hide()

        edit_row = QHBoxLayout()
        edit_row.addWidget(self.text, 1)
        edit_row.addWidget(self.tags)
        for b in (self.add_button, self.save_button, self.pin_button, self.retire_button):
            edit_row.addWidget(b)
        dup_row = QHBoxLayout()
        dup_row.addWidget(self.message, 1)
        dup_row.addWidget(self.merge_button)
        dup_row.addWidget(self.force_button)

        lessons = page(self.list, edit_row, dup_row)
        lessons.layout().insertWidget(0, self.search)

        self.proposal_list = QTreeWidget()
        self.proposal_list.setObjectName("proposalList")
        self.proposal_list.setHeaderLabels(["#", "proposed rule", "compared with the notebook", "from",
                                            "measured effect"])
        self.proposal_list.setRootIsDecorated(False)
        self.proposal_list.setWordWrap(True)
        ph = self.proposal_list.header()
        ph.setSectionResizeMode(1, QHeaderView.Stretch)
        ph.setSectionResizeMode(2, QHeaderView.Stretch)
        self.proposal_list.currentItemChanged.connect(
            lambda item, _: item and self.proposal_edit.setText(item.text(1)))
        self.auto_accept = QCheckBox("Accept proposals without review")
        self.auto_accept.setObjectName("autoAccept")
        self.auto_accept.setToolTip("Off: proposals wait here for you. On: they go straight into "
                                    "the notebook (you can still undo them in History).")
        self.proposal_edit = QLineEdit()
        self.proposal_edit.setPlaceholderText("Select a proposal; edit its rule here before accepting")
        accept = QPushButton("Accept")
        accept.setObjectName("acceptProposalButton")
        accept.clicked.connect(lambda: self.accept_proposal(edited=False))
        accept_edit = QPushButton("Accept my edit")
        accept_edit.clicked.connect(lambda: self.accept_proposal(edited=True))
        reject = QPushButton("Reject")
        reject.setObjectName("rejectProposalButton")
        reject.clicked.connect(self.reject_proposal)
        proposals_page = page(self.proposal_list, self.proposal_edit,
                              button_row(accept, accept_edit, reject, self.auto_accept))

        self.history = QListWidget()
        self.history.setObjectName("historyList")
        undo = QPushButton("Undo the newest change")
        undo.setObjectName("undoButton")
        undo.clicked.connect(self.undo)
        history_page = page(self.history, button_row(undo))

        self.tabs = QTabWidget()
        self.tabs.addTab(lessons, "Lessons")
        self.tabs.addTab(proposals_page, "Proposals")
        self.tabs.addTab(history_page, "History")
        self.list.header().sectionResized.connect(lambda *_: self.list.doItemsLayout())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.tabs)
        self.refresh()

    # -- showing -------------------------------------------------------------------

    def set_prompt_lessons(self, in_prompt: list[int], retrieved: list[int]) -> None:
        self.in_prompt, self.retrieved = set(in_prompt), set(retrieved)
        self.refresh()

    def refresh(self) -> None:
        query = self.search.text()
        if query.strip():
            rows = [(h.lesson, highlight_html(h.snippet)) for h in self.notebook.search(query)]
        else:
            rows = [(l, html.escape(l.text)) for l in self.notebook.lessons("active")]
        current = self.current_id()
        self.list.clear()
        for lesson, text_html in rows:
            where = ("pinned" if lesson.id in self.in_prompt else
                     "retrieved" if lesson.id in self.retrieved else
                     "over budget" if lesson.pinned else "")
            tally = f"+{lesson.helpful}/−{lesson.harmful}" + (" ⚑" if lesson.flagged else "")
            if lesson.demo_query:
                text_html += f' <span style="color:{c("faint")}">(with demonstration)</span>'
            item = QTreeWidgetItem([str(lesson.id), text_html, " ".join(f"#{t}" for t in lesson.tags),
                                    SOURCE_WORDS.get(lesson.source, lesson.source), tally, where])
            item.setToolTip(3, SOURCE_TIPS.get(lesson.source, ""))
            if lesson.flagged:
                item.setToolTip(4, "Flagged: answers it was relevant to were rated bad at least "
                                    "twice, and more often than good. Review it.")
            item.setData(0, Qt.UserRole, lesson.id)
            item.setToolTip(TEXT_COLUMN, lesson.text)
            self.list.addTopLevelItem(item)
            if lesson.id == current:
                self.list.setCurrentItem(item)
        self._refresh_proposals()
        self._refresh_history()

    def _refresh_proposals(self) -> None:
        self.proposal_list.clear()
        pending = self.proposals.pending()
        for p in pending:
            if p.verdict == "duplicate" and p.related_id:
                compared = f"nearly the same as #{p.related_id}: {self._text(p.related_id)}"
            elif p.verdict == "conflict" and p.related_id:
                compared = f"may contradict #{p.related_id}: {self._text(p.related_id)}"
            else:
                compared = "new"
            if p.demo:
                compared += " · with a demonstration"
            effect = effect_text(getattr(p, "evidence", None))  # measured by learning, when it was
            item = QTreeWidgetItem([str(p.id), p.rule, compared, ORIGIN_WORDS.get(p.origin, p.origin),
                                    effect or "not measured"])
            item.setData(0, Qt.UserRole, p.id)
            item.setToolTip(1, p.reason)
            self.proposal_list.addTopLevelItem(item)
        self.tabs.setTabText(1, f"Proposals ({len(pending)})" if pending else "Proposals")

    def _text(self, lesson_id: int) -> str:
        try:
            return self.notebook.get(lesson_id).text
        except WorkbenchError:
            return "(gone)"

    def _refresh_history(self) -> None:
        self.history.clear()
        for e in self.notebook.recent_events():
            if e["action"] == "tally":
                continue
            text = (e["after"] or {}).get("text", "")
            why = f" — {e['reason']}" if e["reason"] else ""
            if e["action"] == "undo":
                why = f" — undid change {e['reason']}"
            self.history.addItem(f"{e['created'][:16].replace('T', ' ')}  {e['action']:<8} "
                                 f"#{e['lesson_id']}  {text}{why}")

    def current_id(self) -> int | None:
        item = self.list.currentItem()
        return item.data(0, Qt.UserRole) if item else None

    def _selected(self, item, _previous) -> None:
        if item is None:
            return
        lesson = self.notebook.get(item.data(0, Qt.UserRole))
        self.text.setText(lesson.text)
        self.tags.setText(", ".join(lesson.tags))
        self.pin_button.setText("Unpin" if lesson.pinned else "Pin")

    def _say(self, text: str, duplicate: int | None = None, kind: str = "warning") -> None:
        """A line under the lessons: kind success (green), info or warning (amber)."""
        self.message.setText(text)
        self.message.setProperty("kind", kind)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
        self.message.setVisible(bool(text))
        # As notices do: a success or an info goes by itself; a warning waits for the next action.
        self._forget.stop()
        if text and kind in AUTO_HIDE_MS:
            self._forget.start(AUTO_HIDE_MS[kind])
        self._pending_duplicate = duplicate
        self.merge_button.setVisible(duplicate is not None)
        self.force_button.setVisible(duplicate is not None)

    # -- changing -------------------------------------------------------------------

    def _tags(self) -> list[str]:
        return [t for t in self.tags.text().replace("#", "").split(",") if t.strip()]

    def add(self, force: bool = False) -> None:
        try:
            result = self.notebook.add(self.text.text(), tags=self._tags(), force=force)
        except WorkbenchError as e:
            self._say(str(e))
            return
        if result.lesson is None:
            d = result.duplicate_of
            self._say(f"Nearly the same as lesson #{d.id} ({result.similarity:.0%} alike): "
                      f"“{d.text}”", duplicate=d.id)
            return
        self._say(f"Added lesson #{result.lesson.id}.", kind="success")
        self.text.clear()
        self.tags.clear()
        self.refresh()
        self.changed.emit()

    def merge_pending(self) -> None:
        if self._pending_duplicate is None:
            return
        new = self.notebook.add(self.text.text(), tags=self._tags(), force=True).lesson
        merged = self.notebook.merge(self._pending_duplicate, new.id, text=new.text)
        self._say(f"Merged into lesson #{merged.id}.", kind="success")
        self.text.clear()
        self.refresh()
        self.changed.emit()

    def _act(self, fn) -> None:
        lesson_id = self.current_id()
        if lesson_id is None:
            self._say("Select a lesson first.")
            return
        try:
            fn(lesson_id)
        except WorkbenchError as e:
            self._say(str(e))
            return
        self.refresh()
        self.changed.emit()

    def save_edit(self) -> None:
        self._act(lambda i: self.notebook.edit(i, text=self.text.text(), tags=self._tags()))

    def toggle_pin(self) -> None:
        self._act(lambda i: self.notebook.set_pinned(i, not self.notebook.get(i).pinned))

    def retire(self) -> None:
        self._act(lambda i: self.notebook.retire(i))

    def _current_proposal(self) -> int | None:
        item = self.proposal_list.currentItem()
        return item.data(0, Qt.UserRole) if item else None

    def accept_proposal(self, edited: bool = False) -> None:
        pid = self._current_proposal()
        if pid is None:
            self._say("Select a proposal first.")
            return
        try:
            lesson = self.proposals.accept(pid, rule=self.proposal_edit.text() if edited else None)
        except WorkbenchError as e:
            self._say(str(e))
            return
        self._say(f"Proposal {pid} is now lesson #{lesson.id}.", kind="success")
        self.refresh()
        self.changed.emit()

    def reject_proposal(self) -> None:
        pid = self._current_proposal()
        if pid is not None:
            self.proposals.reject(pid)
            self._say(f"Proposal {pid} rejected.", kind="info")
            self.refresh()

    def undo(self) -> None:
        try:
            lesson = self.notebook.undo()
        except WorkbenchError as e:
            self._say(str(e))
            return
        self._say(f"Undone: lesson #{lesson.id} is back as it was.", kind="success")
        self.refresh()
        self.changed.emit()
