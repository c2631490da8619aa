"""Prompt documents on disk: an autosaved draft each, and immutable numbered versions."""

import difflib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from workbench.db import WorkbenchDatabase, get_row, now
from workbench.errors import WorkbenchError
from workbench.prompt.document import DEFAULT_NAME, PromptDocument

ACTIVE_KEY = "active_document"
# Days a deleted thing stays in the trash, restorable, before it is removed for good when a
# workspace opens (as desktop trashes and Slack/Notion do); the variable overrides it, 0 keeps
# everything.
TRASH_DAYS = 30
TRASH_DAYS_ENV = "WORKBENCH_TRASH_DAYS"


@dataclass(frozen=True)
class Version:
    id: int
    document_id: int
    number: int
    note: str
    created: str
    document: PromptDocument
    damaged: bool = False  # the stored content could not be read; document is a placeholder


class PromptStore:
    """Args:
        db: an open workbench database (see db.open_db).
    """

    def __init__(self, db: WorkbenchDatabase):
        self.db = db

    # -- documents and drafts ---------------------------------------------

    def create(self, doc: PromptDocument | None = None, note: str = "created") -> int:
        """A new document (default sections unless doc is given) with its first version."""
        with self.db.atomic("new prompt document"):
            doc = doc or PromptDocument.default(self.free_name(DEFAULT_NAME))
            doc_id = self.db["documents"].insert(
                {"name": doc.name, "draft": doc.to_json(), "created": now(), "updated": now()}
            ).last_pk
            self.save_version(doc_id, doc, note=note)
        return doc_id

    def free_name(self, name: str) -> str:
        """name, or "name 2", "name 3"…: the first no other document (in the trash or not) has,
        for the names the workbench gives (new, copies); a name the user gives or imports is kept."""
        taken = {r["name"] for r in self.db.query("select name from documents")}
        if name not in taken:
            return name
        n = 2
        while f"{name} {n}" in taken:
            n += 1
        return f"{name} {n}"

    def active_id(self) -> int:
        """The document the user works on; a default one is made on first use."""
        active = self.current_id()
        if active is not None:
            return active
        with self.db.atomic("new prompt document"):
            # Checked again inside the write: another instance may have just made one.
            active = self.current_id()
            if active is not None:
                return active
            doc_id = self.create()
            self.set_active(doc_id)
        return doc_id

    def current_id(self) -> int | None:
        """The active document's id, or None when none is set (or it is gone); creates nothing."""
        rows = list(self.db["settings"].rows_where("key = ?", [ACTIVE_KEY]))
        if rows and self.db["documents"].count_where("id = ? and trash_id is null",
                                                     [int(rows[0]["value"])]):
            return int(rows[0]["value"])
        return None

    def set_active(self, doc_id: int) -> None:
        """Make doc_id the document the user works on."""
        with self.db.atomic("choice of document"):
            if self._document_row(doc_id)["trash_id"] is not None:
                raise WorkbenchError(f"Prompt document {doc_id} is in the trash; restore it first "
                                     "(the window's Trash, or `workbench prompt trash`).")
            self.db["settings"].upsert({"key": ACTIVE_KEY, "value": str(doc_id)}, pk="key")

    def documents(self, trashed: bool = False) -> list[dict]:
        """Every document not in the trash (trashed: only those in it), oldest first: id, name,
        created, updated, its number of versions and trash_id."""
        return list(self.db.query(f"""
            select d.id, d.name, d.created, d.updated, d.trash_id,
                   (select count(*) from versions v where v.document_id = d.id) as versions
            from documents d where d.trash_id is {'not ' if trashed else ''}null order by d.id"""))

    def rename(self, doc_id: int, name: str) -> None:
        """Give a document a new name (its draft's; no version is made)."""
        doc = self.load_draft(doc_id)
        doc.name = valid_name(name)
        self.save_draft(doc_id, doc)

    def duplicate(self, doc_id: int) -> int:
        """A new document from this one's draft, named "NAME (copy)"; the active one is kept."""
        doc = self.load_draft(doc_id)
        original, doc.name = doc.name, self.free_name(f"{doc.name} (copy)")
        return self.create(doc, note=f"copy of “{original}”")

    def delete(self, doc_id: int) -> int:
        """Delete a document and all its versions for good (trash() can be undone); returns
        the active document's id after (another one when this was active). The last
        document cannot be deleted."""
        with self.db.atomic("deletion of the document"):
            row = self._document_row(doc_id)
            if row["trash_id"] is None and self.db["documents"].count_where("trash_id is null") <= 1:
                raise WorkbenchError(f"Document {doc_id} ({row['name']!r}) is the only prompt "
                                     "document and cannot be deleted. Create another first "
                                     "(`workbench prompt new NAME`).")
            self.db.execute("delete from versions where document_id = ?", [doc_id])
            self.db["documents"].delete(doc_id)
            self.db.execute("update trash set restored = ? where kind = 'document' and item_id = ? "
                            "and restored is null", ["deleted for good", doc_id])
            return self._active_or_newest()

    def _active_or_newest(self) -> int:
        active = self.current_id()
        if active is None:  # the deleted one was active: the most recently updated other
            active = next(iter(self.db.query(
                "select id from documents where trash_id is null "
                "order by updated desc, id desc limit 1")))["id"]
            self.set_active(active)
        return active

    def trash(self, doc_id: int) -> tuple[int, int]:
        """Move a document to the trash: (its trash entry, the active document's id after)."""
        with self.db.atomic("deletion of the document"):
            row = self._document_row(doc_id)
            name = row["name"]
            if row["trash_id"] is not None:
                raise WorkbenchError(f"Prompt document {doc_id} ({name!r}) is already in the trash.")
            if self.db["documents"].count_where("trash_id is null") <= 1:
                raise WorkbenchError(f"Document {doc_id} ({name!r}) is the only prompt document "
                                     "and cannot be deleted. Create another first "
                                     "(`workbench prompt new NAME`).")
            was_active = self.current_id() == doc_id
            trash_id = to_trash(self.db, "document", doc_id, name, {"was_active": was_active})
            self.db["documents"].update(doc_id, {"trash_id": trash_id})
            return trash_id, self._active_or_newest()

    def purge(self, doc_ids: list[int]) -> tuple[int, int]:
        """Remove trashed documents for good, with their versions, runs, test sets and
        evaluations; returns (versions, runs) removed. Call inside the purging write (their
        conversations are the conversation store's to remove)."""
        # Only trashed ones: whatever the caller passed, a live document is never touched here.
        doc_ids = [r["id"] for r in self.db.query(
            "select id from documents where trash_id is not null and id in "
            "(select value from json_each(?))", [json.dumps(doc_ids)])]
        if not doc_ids:
            return 0, 0
        ids = [json.dumps(doc_ids)]
        docs = "(select value from json_each(?))"
        evals = f"(select id from eval_runs where document_id in {docs})"
        sets = f"(select id from test_sets where document_id in {docs})"
        for sql in (f"delete from eval_cells where run_id in {evals}",
                    f"delete from eval_columns where run_id in {evals}",
                    f"delete from eval_runs where document_id in {docs}",
                    f"delete from test_cases where set_id in {sets}",
                    f"delete from test_sets where document_id in {docs}"):
            self.db.execute(sql, ids)
        runs = self.db.execute(f"delete from runs where document_id in {docs}", ids).rowcount
        versions = self.db.execute(f"delete from versions where document_id in {docs}", ids).rowcount
        self.db.execute(f"delete from documents where id in {docs}", ids)
        rows = list(self.db["settings"].rows_where("key = ?", [ACTIVE_KEY]))
        if rows and int(rows[0]["value"]) in doc_ids and self.db["documents"].count_where(
                "trash_id is null"):
            self._active_or_newest()
        return versions, runs

    def undelete(self, trash_id: int) -> int:
        """Bring a document back from the trash (active again if it was); returns its id."""
        with self.db.atomic("restored document"):
            entry = trash_entry(self.db, trash_id, "document")
            self.db.execute("update documents set trash_id = null where trash_id = ?", [trash_id])
            mark_restored(self.db, trash_id)
            if entry["state"].get("was_active"):
                self.set_active(entry["item_id"])
        return entry["item_id"]

    def load_draft(self, doc_id: int) -> PromptDocument:
        """The document's draft. Bad values in it (an older version's, a hand edit's) are
        repaired, and a draft too damaged to read gives way to the newest readable version;
        the document's .notes say what was done, for the window and the CLI to show."""
        row = self._document_row(doc_id)
        doc = read_stored(row["draft"])
        if doc is not None:
            return doc
        for v in self.db["versions"].rows_where("document_id = ?", [doc_id], order_by="number desc"):
            doc = read_stored(v["content"])
            if doc is not None:
                doc.notes.insert(0, f"The draft of prompt document {doc_id} is damaged and cannot "
                                 f"be read; its version {v['number']} was opened instead.")
                return doc
        doc = PromptDocument.default()
        if isinstance(row["name"], str) and row["name"].strip() and "\n" not in row["name"]:
            doc.name = row["name"]
        doc.notes.append(f"Prompt document {doc_id} is damaged and none of its versions can be "
                         "read; it was opened with the default sections.")
        return doc

    def save_draft(self, doc_id: int, doc: PromptDocument) -> None:
        """Autosave: overwrite the draft; no version is made."""
        with self.db.atomic("draft"):
            self._document_row(doc_id)
            self.db["documents"].update(doc_id, {"draft": doc.to_json(), "name": doc.name,
                                                 "updated": now()})

    def _document_row(self, doc_id: int) -> dict:
        return get_row(self.db, "documents", doc_id, f"prompt document {doc_id}")

    # -- versions -----------------------------------------------------------

    def save_version(self, doc_id: int, doc: PromptDocument, note: str = "") -> Version:
        """Make an immutable version, unless the newest one already has this content."""
        # The newest version is read inside the write: two instances saving at once then
        # number theirs one after the other instead of colliding.
        with self.db.atomic("new version"):
            latest = self.latest(doc_id)
            if latest and latest.document.content_hash() == doc.content_hash():
                self.save_draft(doc_id, doc)
                return latest
            number = (latest.number if latest else 0) + 1
            self.db["versions"].insert({
                "document_id": doc_id, "number": number, "content": doc.to_json(),
                "content_hash": doc.content_hash(), "note": note, "created": now(),
            })
            self.save_draft(doc_id, doc)
        return self.version(doc_id, number)

    def versions(self, doc_id: int) -> list[Version]:
        rows = self.db["versions"].rows_where("document_id = ?", [doc_id], order_by="number")
        return [self._version(r) for r in rows]

    def latest(self, doc_id: int) -> Version | None:
        rows = list(self.db["versions"].rows_where("document_id = ?", [doc_id],
                                                   order_by="number desc", limit=1))
        return self._version(rows[0]) if rows else None

    def version(self, doc_id: int, number: int) -> Version:
        rows = list(self.db["versions"].rows_where("document_id = ? and number = ?",
                                                   [doc_id, number]))
        if not rows:
            raise WorkbenchError(f"Prompt document {doc_id} has no version {number}.")
        return self._version(rows[0])

    def version_by_id(self, version_id: int) -> Version | None:
        """The version with this row id (as runs record it), or None if it was deleted."""
        rows = list(self.db["versions"].rows_where("id = ?", [version_id]))
        return self._version(rows[0]) if rows else None

    @staticmethod
    def _version(row: dict) -> Version:
        doc = read_stored(row["content"])  # bad values repaired, noted in doc.notes
        damaged = doc is None
        if damaged:  # listing, diffing and saving go on past one unreadable version
            doc = PromptDocument(name=f"(version {row['number']} is damaged)", notes=[
                f"Version {row['number']} of prompt document {row['document_id']} is damaged "
                "and cannot be read."])
        return Version(row["id"], row["document_id"], row["number"], row["note"] or "",
                       row["created"], doc, damaged)

    def restore(self, doc_id: int, number: int) -> Version:
        """Make an old version the newest (as a new version; history is kept)."""
        old = self.version(doc_id, number)
        if old.damaged:
            raise WorkbenchError(old.document.notes[0] + " Restore another version.")
        return self.save_version(doc_id, old.document, note=f"restored from v{number}")

    def diff(self, doc_id: int, a: int, b: int, render) -> str:
        """Unified diff of two versions' rendered prompts; render(doc) -> text."""
        left, right = self.version(doc_id, a), self.version(doc_id, b)
        return "".join(difflib.unified_diff(
            render(left.document).splitlines(keepends=True),
            render(right.document).splitlines(keepends=True),
            fromfile=f"v{a}", tofile=f"v{b}"))


def read_stored(text) -> PromptDocument | None:
    """A stored document with its bad values repaired (its .notes say what changed), or None
    when the text is not a document at all (not JSON, not an object)."""
    try:
        return PromptDocument.from_json(text)
    except WorkbenchError:
        return None


def valid_name(name: str) -> str:
    """A document name: one line, not blank (WorkbenchError otherwise)."""
    name = name.strip()
    if not name:
        raise WorkbenchError("A prompt document needs a name; this one is blank.")
    if "\n" in name or "\r" in name:
        raise WorkbenchError("A prompt document's name is one line; this one has a line break.")
    return name


# -- the trash: shared by the stores whose deletions can be undone ----------------------


def to_trash(db: WorkbenchDatabase, kind: str, item_id: int, title: str, state: dict) -> int:
    """A new trash entry for a deleted KIND (document, conversation, messages); state is what
    undo needs to put things back as they were. Call inside the deleting write."""
    return db["trash"].insert({"kind": kind, "item_id": item_id, "title": title,
                               "state": json.dumps(state), "deleted": now(),
                               "restored": None}).last_pk


def trash_entry(db: WorkbenchDatabase, trash_id: int, kind: str | None = None) -> dict:
    """A trash entry (state decoded); WorkbenchError when there is none, or it was restored."""
    try:
        entry = get_row(db, "trash", trash_id, f"trash entry {trash_id}")
    except WorkbenchError:
        raise WorkbenchError(f"There is no trash entry {trash_id}: it may have been removed for "
                             "good (the trash was emptied, or it was deleted long ago). "
                             "`workbench prompt trash` lists what can be restored.") from None
    if kind is not None and entry["kind"] != kind:
        raise WorkbenchError(f"Trash entry {trash_id} holds a {entry['kind']}, not a {kind}.")
    if entry["restored"] == "deleted for good":
        raise WorkbenchError(f"“{entry['title']}” was deleted for good and cannot be restored.")
    if entry["restored"]:
        raise WorkbenchError(f"“{entry['title']}” was already restored ({entry['restored']}).")
    entry["state"] = json.loads(entry["state"] or "{}")
    return entry


def mark_restored(db: WorkbenchDatabase, trash_id: int) -> None:
    db["trash"].update(trash_id, {"restored": now()})


def trash_days() -> int:
    """Days the trash keeps things (WORKBENCH_TRASH_DAYS, else TRASH_DAYS); 0: for ever.
    WorkbenchError when the variable is not a whole number of days."""
    text = os.environ.get(TRASH_DAYS_ENV, "").strip()
    if not text:
        return TRASH_DAYS
    try:
        days = int(text)
    except ValueError:
        days = -1
    if days < 0:
        raise WorkbenchError(f"{TRASH_DAYS_ENV} is a whole number of days to keep deleted things "
                             f"(0 keeps them for ever), not {text!r}; nothing is removed from the "
                             "trash automatically until it is fixed.")
    return days


def trash_due(db: WorkbenchDatabase) -> int | None:
    """The retention in days when the trash holds something past it and can be emptied now,
    else None: one indexed query, cheap enough for every open. A bad WORKBENCH_TRASH_DAYS
    removes nothing (the trash listing says why)."""
    try:
        days = trash_days()
    except WorkbenchError:
        return None
    if not days or db.read_only:
        return None
    row = db.execute("select 1 from trash where deleted < ? limit 1", [trash_cutoff(days)]).fetchone()
    return days if row else None


def trash_cutoff(days: int) -> str:
    """The deletion time (as stored) before which entries are past a retention of days."""
    try:
        return (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    except OverflowError:  # longer than the calendar goes back: nothing is that old
        return ""
