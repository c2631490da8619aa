"""Prompt documents on disk: an autosaved draft each, and immutable numbered versions."""

import difflib
from dataclasses import dataclass

import sqlite_utils

from .db import now
from .document import PromptDocument
from .errors import WorkbenchError

ACTIVE_KEY = "active_document"


@dataclass(frozen=True)
class Version:
    id: int
    document_id: int
    number: int
    note: str
    created: str
    document: PromptDocument


class PromptStore:
    """Args:
        db: an open workbench database (see db.open_db).
    """

    def __init__(self, db: sqlite_utils.Database):
        self.db = db

    # -- documents and drafts ---------------------------------------------

    def create(self, doc: PromptDocument | None = None) -> int:
        doc = doc or PromptDocument.default()
        with self.db.atomic():
            doc_id = self.db["documents"].insert(
                {"name": doc.name, "draft": doc.to_json(), "created": now(), "updated": now()}
            ).last_pk
            self.save_version(doc_id, doc, note="created")
        return doc_id

    def active_id(self) -> int:
        """The document the user works on; a default one is made on first use."""
        row = self.db["settings"].get(ACTIVE_KEY) if self._has_setting(ACTIVE_KEY) else None
        if row and self.db["documents"].count_where("id = ?", [int(row["value"])]):
            return int(row["value"])
        doc_id = self.create()
        self.set_active(doc_id)
        return doc_id

    def _has_setting(self, key: str) -> bool:
        return bool(self.db["settings"].count_where("key = ?", [key]))

    def set_active(self, doc_id: int) -> None:
        self.db["settings"].upsert({"key": ACTIVE_KEY, "value": str(doc_id)}, pk="key")

    def documents(self) -> list[dict]:
        return list(self.db.query("select id, name, updated from documents order by id"))

    def load_draft(self, doc_id: int) -> PromptDocument:
        return PromptDocument.from_json(self._document_row(doc_id)["draft"])

    def save_draft(self, doc_id: int, doc: PromptDocument) -> None:
        """Autosave: overwrite the draft; no version is made."""
        self._document_row(doc_id)
        self.db["documents"].update(doc_id, {"draft": doc.to_json(), "name": doc.name,
                                             "updated": now()})

    def _document_row(self, doc_id: int) -> dict:
        try:
            return self.db["documents"].get(doc_id)
        except sqlite_utils.db.NotFoundError:
            raise WorkbenchError(f"There is no prompt document {doc_id}.") from None

    # -- versions -----------------------------------------------------------

    def save_version(self, doc_id: int, doc: PromptDocument, note: str = "") -> Version:
        """Make an immutable version, unless the newest one already has this content."""
        latest = self.latest(doc_id)
        if latest and latest.document.content_hash() == doc.content_hash():
            self.save_draft(doc_id, doc)
            return latest
        number = (latest.number if latest else 0) + 1
        with self.db.atomic():
            self.db["versions"].insert({
                "document_id": doc_id, "number": number, "content": doc.to_json(),
                "content_hash": doc.content_hash(), "note": note, "created": now(),
            }).last_pk
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

    @staticmethod
    def _version(row: dict) -> Version:
        return Version(row["id"], row["document_id"], row["number"], row["note"] or "",
                       row["created"], PromptDocument.from_json(row["content"]))

    def restore(self, doc_id: int, number: int) -> Version:
        """Make an old version the newest (as a new version; history is kept)."""
        old = self.version(doc_id, number)
        return self.save_version(doc_id, old.document, note=f"restored from v{number}")

    def diff(self, doc_id: int, a: int, b: int, render) -> str:
        """Unified diff of two versions' rendered prompts; render(doc) -> text."""
        left, right = self.version(doc_id, a), self.version(doc_id, b)
        return "".join(difflib.unified_diff(
            render(left.document).splitlines(keepends=True),
            render(right.document).splitlines(keepends=True),
            fromfile=f"v{a}", tofile=f"v{b}"))
