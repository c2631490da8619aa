"""The library sidebar: prompt documents, the conversations of the open one, its versions, and the
trash. Layout and wiring: what each action does is chat.library.Library and the session."""

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QSplitter,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.chat.library import Library, when
from workbench.errors import WorkbenchError
from workbench.prompt.store import valid_name
from workbench.ui.versions import DETAIL, TwoLineDelegate, VersionsPanel

ID = Qt.UserRole
REFRESH_MS = 60  # several changes in a row (accept, autosave, new version) refresh once


def _tool(text: str, tip: str, slot, name: str = "") -> QToolButton:
    b = QToolButton()
    b.setText(text)
    b.setToolTip(tip)
    b.setAutoRaise(True)
    if name:
        b.setObjectName(name)
    b.clicked.connect(slot)
    return b


def _header(title: str, *tools) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    label = QLabel(title)
    label.setObjectName("paneTitle")
    row.addWidget(label)
    row.addStretch()
    for t in tools:
        row.addWidget(t)
    return row


def _search(placeholder: str, name: str) -> QLineEdit:
    s = QLineEdit()
    s.setObjectName(name)
    s.setPlaceholderText(placeholder)
    s.setClearButtonEnabled(True)
    return s


class LibraryPanel(QWidget):
    """The sidebar (objectName promptLibrary): documentList, conversationList, versionList.

    Args:
        window: the MainWindow (its session, workspace, panes, notify, save_draft).

    Signals:
        documentOpened(int): another prompt document is open in the window.
    """

    documentOpened = Signal(int)

    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.setObjectName("promptLibrary")
        self.w, self.library = window, Library(window.ws)
        self._refreshing = False
        self.refresh_timer = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self.refresh_timer.timeout.connect(self.refresh)

        # -- documents
        self.trash_button = QToolButton()
        self.trash_button.setObjectName("trashButton")
        self.trash_button.setIcon(self.style().standardIcon(QStyle.SP_TrashIcon))
        self.trash_button.setToolTip("Trash: restore a deleted prompt, conversation or message")
        self.trash_button.setAutoRaise(True)
        self.trash_button.setPopupMode(QToolButton.InstantPopup)
        self.trash_menu = QMenu(self.trash_button)
        self.trash_menu.setObjectName("trashMenu")
        self.trash_menu.aboutToShow.connect(self._fill_trash)
        self.trash_button.setMenu(self.trash_menu)
        self.doc_actions = QToolButton()
        self.doc_actions.setObjectName("documentActionsButton")
        self.doc_actions.setText("⋯")
        self.doc_actions.setToolTip("Rename, duplicate or delete the selected prompt")
        self.doc_actions.setAutoRaise(True)
        self.doc_actions.setPopupMode(QToolButton.InstantPopup)
        menu = QMenu(self.doc_actions)
        self.rename_action = menu.addAction("Rename", self._rename_selected)
        self.duplicate_action = menu.addAction("Duplicate", self._duplicate_selected)
        menu.addSeparator()
        self.delete_action = menu.addAction("Delete (can be restored from the Trash)", self._delete_selected)
        self.doc_actions.setMenu(menu)
        self.doc_search = _search("Search prompts", "documentSearch")
        self.documents = QListWidget()
        self.documents.setObjectName("documentList")
        self.documents.setTextElideMode(Qt.ElideRight)
        self.documents.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.documents.setEditTriggers(QAbstractItemView.EditKeyPressed | QAbstractItemView.DoubleClicked)
        self.documents.itemClicked.connect(lambda item: self.open_document(item.data(ID)))
        self.documents.itemActivated.connect(lambda item: self.open_document(item.data(ID)))
        self.documents.itemChanged.connect(self._renamed)
        self.documents.setContextMenuPolicy(Qt.CustomContextMenu)
        self.documents.customContextMenuRequested.connect(self._document_menu)
        docs = QWidget()
        v = QVBoxLayout(docs)
        v.setContentsMargins(0, 0, 0, 0)
        v.addLayout(_header("Prompts", _tool("+", "New prompt", self.new_document, "newDocumentButton"),
                            self.doc_actions, self.trash_button))
        v.addWidget(self.doc_search)
        v.addWidget(self.documents, 1)

        # -- conversations
        self.conv_search = _search("Search messages", "conversationSearch")
        self.all_prompts = QCheckBox("All")
        self.all_prompts.setObjectName("allPromptsCheck")
        self.all_prompts.setToolTip("List the conversations of every prompt, not only the open one")
        self.conversations = QListWidget()
        self.conversations.setObjectName("conversationList")
        self.conversations.setItemDelegate(TwoLineDelegate(self.conversations))
        self.conversations.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.conversations.setUniformItemSizes(True)
        self.conversations.itemClicked.connect(lambda item: self.open_conversation(item.data(ID)))
        self.conversations.itemActivated.connect(lambda item: self.open_conversation(item.data(ID)))
        self.conversations.setContextMenuPolicy(Qt.CustomContextMenu)
        self.conversations.customContextMenuRequested.connect(self._conversation_menu)
        convs = QWidget()
        v = QVBoxLayout(convs)
        v.setContentsMargins(0, 0, 0, 0)
        v.addLayout(_header("Conversations",
                            _tool("+", "A new conversation with this prompt (Ctrl+N)",
                                  lambda: self.open_conversation(None), "newConversationButton"),
                            _tool("✕", "Delete the selected conversation (Delete)",
                                  self._delete_selected_conversation,
                                  "deleteConversationButton")))
        row = QHBoxLayout()
        row.addWidget(self.conv_search, 1)
        row.addWidget(self.all_prompts)
        v.addLayout(row)
        v.addWidget(self.conversations, 1)

        # -- versions
        self.versions = VersionsPanel(window, self.library)

        self.splitter = QSplitter(Qt.Vertical)
        self.splitter.setObjectName("librarySplitter")
        self.splitter.setChildrenCollapsible(False)
        for part in (docs, convs, self.versions):
            self.splitter.addWidget(part)
        self.splitter.setSizes([200, 320, 220])
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 4, 6, 6)
        outer.addWidget(self.splitter)

        self.doc_search.textChanged.connect(self.refresh_documents)
        self.conv_search.textChanged.connect(self.refresh_conversations)
        self.all_prompts.toggled.connect(self.refresh_conversations)
        # F2 is the window's rename of the open prompt; Delete here deletes the selected item.
        QShortcut(QKeySequence("Delete"), self, activated=self._delete_focused,
                  context=Qt.WidgetWithChildrenShortcut)
        self._follow_window()
        self.refresh()

    def sizeHint(self) -> QSize:
        return QSize(230, 600)

    def _follow_window(self) -> None:
        """Refresh after what changes the lists (connected after the window's own slots, so
        the change is made when this runs)."""
        w = self.w
        later = self.refresh_timer.start
        w.outputs.accepted.connect(later)  # a conversation got its answer
        w.conversation.action.connect(later)  # edited, branched, deleted
        w.compare.model().rowsInserted.connect(later)  # choices rebuilt: a version, an import
        w.worker.idle.connect(later)  # a generation finished: a conversation may be new
        w.prompt.changed.connect(self._show_name)  # typing: no database, no rebuilt lists

    # -- showing ----------------------------------------------------------------------

    def refresh(self) -> None:
        """Show the lists as they are in the database now."""
        self.refresh_timer.stop()
        self.refresh_documents()
        self.refresh_conversations()
        self.versions.refresh()

    def refresh_documents(self) -> None:
        self._refreshing = True
        try:
            s = self.w.session
            self.documents.clear()
            for d in self.library.documents(self.doc_search.text()):
                name = s.document.name if d["id"] == s.document_id else d["name"]
                item = QListWidgetItem(name)
                item.setData(ID, d["id"])
                item.setFlags(item.flags() | Qt.ItemIsEditable)
                item.setToolTip(f"{d['versions']} version{'' if d['versions'] == 1 else 's'} · "
                                f"edited {when(d['updated'])}")
                self.documents.addItem(item)
                if d["id"] == s.document_id:
                    self.documents.setCurrentItem(item)
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
        finally:
            self._refreshing = False

    def _show_name(self) -> None:
        """The open prompt's name as it is typed (renamed) in the window."""
        s = self.w.session
        item = self._item(self.documents, s.document_id)
        if item is not None and item.text() != s.document.name:
            self._refreshing = True
            item.setText(s.document.name)
            self._refreshing = False

    def refresh_conversations(self) -> None:
        s = self.w.session
        doc = None if self.all_prompts.isChecked() else s.document_id
        scrolled = self.conversations.verticalScrollBar().value()
        self.conversations.clear()
        for c in self.library.conversations(doc, self.conv_search.text(), keep=s.conversation_id):
            item = QListWidgetItem(c.title)
            item.setData(ID, c.id)
            item.setData(DETAIL, c.detail)
            item.setToolTip(f"{c.title}\n{c.detail}")
            self.conversations.addItem(item)
            if c.id == s.conversation_id:
                self.conversations.setCurrentItem(item)
        if s.conversation_id is None:
            self.conversations.setCurrentItem(None)
        self.conversations.verticalScrollBar().setValue(scrolled)  # a refresh keeps the place

    def _selected(self, view: QListWidget) -> int | None:
        item = view.currentItem()
        return item.data(ID) if item is not None else None

    def busy(self) -> bool:
        """Whether candidates are being generated (they would land in the wrong place)."""
        if self.w.generating:
            self.w.notify("Stop the generation first (Esc): its answers belong to the open "
                          "conversation.", "warning")
            self.refresh()
            return True
        return False

    # -- documents ----------------------------------------------------------------------

    def open_document(self, doc_id: int | None) -> bool:
        """Open a prompt document in the window; the draft of the one open is saved first and
        nothing is lost if that fails. Its newest conversation opens with it."""
        w, s = self.w, self.w.session
        if doc_id is None or doc_id == s.document_id:
            return False
        if self.busy():
            return False
        w.save_draft()  # the window's save: a busy database keeps the draft and retries
        try:
            s.open_document(doc_id)  # saves the draft again, then switches
        except WorkbenchError as e:
            w.notify(f"The prompt was not switched, and your draft is kept: {e}", "error")
            self.refresh()
            return False
        w.document_opened()
        newest = self.library.conversations(doc_id)
        self.open_conversation(newest[0].id if newest else None)
        self.documentOpened.emit(doc_id)
        self.refresh()
        return True

    def new_document(self) -> int | None:
        """A new prompt with empty sections, opened, its name ready to type over."""
        try:
            doc_id = self.library.create_document("New prompt")
        except WorkbenchError as e:
            self.w.notify(str(e), "error")
            return None
        if not self.open_document(doc_id):
            self.refresh()
            return doc_id
        self.doc_search.clear()
        item = self._item(self.documents, doc_id)
        if item is not None:
            self.documents.editItem(item)
        return doc_id

    def duplicate_document(self, doc_id: int) -> int | None:
        if doc_id == self.w.session.document_id:
            self.w.save_draft()  # the copy is of what is on screen
        try:
            copy_id = self.library.duplicate(doc_id)
        except WorkbenchError as e:
            self.w.notify(str(e), "error")
            return None
        self.refresh()
        self.w.notify(f"Copied as “{self.w.ws.prompts.load_draft(copy_id).name}”.", "success")
        return copy_id

    def rename_document(self, doc_id: int, name: str) -> bool:
        """Rename a document (the open one's draft too, so the next autosave keeps it)."""
        w, s = self.w, self.w.session
        try:
            if doc_id == s.document_id:
                s.document.name = valid_name(name)
                w.save_draft()
                w.document_opened()  # the name field shows it
            else:
                self.library.ws.prompts.rename(doc_id, name)
        except WorkbenchError as e:
            w.notify(str(e), "error")
            self.refresh()
            return False
        self.refresh()
        return True

    def delete_document(self, doc_id: int) -> bool:
        """Move a prompt to the trash, with Undo; the window opens another if it was open."""
        w, s = self.w, self.w.session
        was_open = doc_id == s.document_id
        if was_open and self.busy():
            return False
        if was_open:
            w.save_draft()
        try:
            deleted, active = self.library.delete_document(doc_id)
        except WorkbenchError as e:
            w.notify(str(e), "error")
            return False
        if was_open:
            self.open_document(active)  # the draft went to the trash with its document
        self.refresh()
        w.notify(deleted.message, "info", action=("Undo", lambda: self.restore(deleted.trash_id)))
        return True

    def _renamed(self, item: QListWidgetItem) -> None:
        if not self._refreshing:
            doc_id, name = item.data(ID), item.text()
            QTimer.singleShot(0, lambda: self.rename_document(doc_id, name))  # not inside the edit

    def _rename_selected(self) -> None:
        item = self.documents.currentItem()
        if item is not None:
            self.documents.editItem(item)

    def _duplicate_selected(self) -> None:
        doc_id = self._selected(self.documents)
        if doc_id is not None:
            self.duplicate_document(doc_id)

    def _delete_selected(self) -> None:
        doc_id = self._selected(self.documents)
        if doc_id is not None:
            self.delete_document(doc_id)

    def _delete_focused(self) -> None:
        if self.conversations.hasFocus():
            self._delete_selected_conversation()
        elif self.documents.hasFocus():
            self._delete_selected()

    def _document_menu(self, pos) -> None:
        item = self.documents.itemAt(pos)
        if item is None:
            return
        doc_id = item.data(ID)
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.open_document(doc_id))
        menu.addAction("Rename", lambda: self.documents.editItem(item))
        menu.addAction("Duplicate", lambda: self.duplicate_document(doc_id))
        menu.addSeparator()
        menu.addAction("Delete", lambda: self.delete_document(doc_id))
        menu.exec(self.documents.viewport().mapToGlobal(pos))

    @staticmethod
    def _item(view: QListWidget, item_id: int) -> QListWidgetItem | None:
        return next((view.item(i) for i in range(view.count()) if view.item(i).data(ID) == item_id), None)

    # -- conversations -----------------------------------------------------------------

    def open_conversation(self, conversation_id: int | None) -> bool:
        """Show a stored conversation to continue it (None: a new one)."""
        w, s = self.w, self.w.session
        if self.busy():
            return False
        w.new_conversation()  # the window's reset: candidates, edit mode, the view
        if conversation_id is not None:
            try:
                s.open_conversation(conversation_id)
            except WorkbenchError as e:
                w.notify(str(e), "error")
                self.refresh_conversations()
                return False
            w.settings.setValue("conversation", conversation_id)
            w.show_conversation()
            w.recompose()
        self.refresh_conversations()
        return True

    def delete_conversation(self, conversation_id: int) -> bool:
        w, s = self.w, self.w.session
        was_open = conversation_id == s.conversation_id
        if was_open and self.busy():
            return False
        try:
            deleted = self.library.delete_conversation(conversation_id)
        except WorkbenchError as e:
            w.notify(str(e), "error")
            return False
        if was_open:
            w.new_conversation()
        self.refresh_conversations()
        w.notify(deleted.message, "info", action=("Undo", lambda: self.restore(deleted.trash_id, was_open)))
        return True

    def delete_message(self, message_id: int) -> bool:
        """Delete a message and what follows it, with Undo (the window's delete link)."""
        w, s = self.w, self.w.session
        if self.busy():
            return False
        try:
            deleted = self.library.delete_message(message_id)
        except WorkbenchError as e:
            w.notify(str(e), "error")
            return False
        if s.edit_mode is not None:  # the message being edited may be gone
            w.leave_edit_mode()
        w.show_conversation()
        w.recompose()
        self.refresh_conversations()
        w.notify(deleted.message, "info", action=("Undo", lambda: self.restore(deleted.trash_id)))
        return True

    def _delete_selected_conversation(self) -> None:
        cid = self._selected(self.conversations)
        if cid is not None:
            self.delete_conversation(cid)

    def _conversation_menu(self, pos) -> None:
        item = self.conversations.itemAt(pos)
        if item is None:
            return
        cid = item.data(ID)
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.open_conversation(cid))
        menu.addSeparator()
        menu.addAction("Delete", lambda: self.delete_conversation(cid))
        menu.exec(self.conversations.viewport().mapToGlobal(pos))

    # -- the trash ----------------------------------------------------------------------

    def restore(self, trash_id: int, reopen: bool = True) -> bool:
        """Undo a deletion: the thing comes back where it was (reopened if it was open)."""
        w, s = self.w, self.w.session
        try:
            entry = self.library.restore(trash_id)
        except WorkbenchError as e:
            w.notify(str(e), "error")
            self.refresh()
            return False
        kind = entry["kind"]
        if kind == "document" and entry["state"].get("was_active"):
            self.open_document(entry["item_id"])
        elif (kind == "conversation" and reopen and s.conversation_id is None
              and self._of_open_document(entry["item_id"])):
            self.open_conversation(entry["item_id"])
        elif kind == "messages" and entry["conversation_id"] == s.conversation_id:
            w.show_conversation()
            w.recompose()
        self.refresh()
        what = {"document": "prompt", "conversation": "conversation", "messages": "message"}[kind]
        w.notify(f"Restored the {what} “{entry['title']}”.", "success")
        return True

    def _of_open_document(self, conversation_id: int) -> bool:
        """Whether the conversation belongs to the open prompt (another's is not opened here)."""
        try:
            return self.w.ws.conversations.get(conversation_id)["document_id"] == self.w.session.document_id
        except WorkbenchError:
            return False

    def _fill_trash(self) -> None:
        self.trash_menu.clear()
        entries = self.library.trash()
        if not entries:
            self.trash_menu.addAction("The trash is empty").setEnabled(False)
            return
        label = {"document": "prompt", "conversation": "conversation", "messages": "message"}
        for e in entries:
            text = f"Restore {label[e['kind']]} “{e['title']}” · deleted {when(e['deleted'])}"
            self.trash_menu.addAction(text, lambda t=e["id"]: self.restore(t))
        self.trash_menu.addSeparator()
        self.trash_menu.addAction(self.library.retention()).setEnabled(False)
        self.empty_trash_action = self.trash_menu.addAction("Empty trash…", self.empty_trash)

    def empty_trash(self) -> bool:
        """Remove everything in the trash for good, once the user confirms."""
        box = QMessageBox(QMessageBox.Warning, "Empty the trash",
                          "Remove everything in the trash for good?", parent=self)
        box.setObjectName("emptyTrashConfirm")
        box.setInformativeText("Deleted prompts (with their versions, runs and conversations), "
                               "conversations and messages are removed. This cannot be undone.")
        empty = box.addButton("Empty trash", QMessageBox.DestructiveRole)
        box.setDefaultButton(box.addButton(QMessageBox.Cancel))
        box.exec()
        if box.clickedButton() is not empty:
            return False
        w = self.w
        try:
            purged = self.library.empty_trash()
        except WorkbenchError as e:
            w.notify(f"The trash was not emptied: {e}", "error")
            return False
        self.refresh()
        if purged.kept:
            w.notify(f"Removed for good: {purged}. The prompt “{purged.kept}” stays in the trash: "
                     "it is the only prompt left.", "warning")
        else:
            w.notify(f"Removed for good: {purged}.", "success")
        return True


def add_library(window) -> QDockWidget:
    """Create the dock (objectName promptLibraryDock, its widget promptLibrary), add it to window
    (left dock area), return it."""
    dock = QDockWidget("Library", window)
    dock.setObjectName("promptLibraryDock")
    dock.setWidget(LibraryPanel(window, dock))
    dock.setFeatures(QDockWidget.DockWidgetClosable | QDockWidget.DockWidgetMovable
                     | QDockWidget.DockWidgetFloatable)
    window.addDockWidget(Qt.LeftDockWidgetArea, dock)
    return dock
