"""The prompt library the window's sidebar drives: documents, their conversations and versions,
the trash that makes every deletion undoable, and side-by-side diffs. Qt-free."""

from __future__ import annotations

import contextlib
import difflib
import json
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime

from workbench.db import DatabaseError
from workbench.errors import WorkbenchError
from workbench.logs import report_unexpected
from workbench.prompt.document import PromptDocument
from workbench.prompt.store import Version, trash_cutoff, trash_days, trash_entry, valid_name
from workbench.runtime.params import SamplingParams
from workbench.workspace import Workspace

PREVIEW_CHARS = 70
DRAFT = "draft"  # what a diff side holds when it is the draft, not a version number


@dataclass(frozen=True)
class Deleted:
    """A deletion that can be undone: its trash entry and what to tell the user."""

    trash_id: int
    message: str


@dataclass(frozen=True)
class Purged:
    """What removing trash entries for good took away."""

    entries: int = 0
    prompts: int = 0
    versions: int = 0
    conversations: int = 0
    messages: int = 0
    runs: int = 0
    kept: str = ""  # the entry kept back (the only prompt left), if any

    def __str__(self) -> str:
        """ "2 prompts (5 versions), 1 conversation, 6 messages and 3 logged runs", or "nothing"."""
        parts = [plural(self.prompts, "prompt") + (f" ({plural(self.versions, 'version')})"
                                                    if self.versions else "") if self.prompts else "",
                 plural(self.conversations, "conversation") if self.conversations else "",
                 plural(self.messages, "message") if self.messages else "",
                 plural(self.runs, "logged run") if self.runs else ""]
        parts = [p for p in parts if p]
        if not parts:
            return plural(self.entries, "trash entry") if self.entries else "nothing"
        return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]


@dataclass(frozen=True)
class ConversationItem:
    """One line of the conversation list."""

    id: int
    title: str  # the first question (or the stored title when it has none)
    detail: str  # "4 messages · 10:32", or the matching words of a search
    document_id: int | None


def one_line(text: str | None, limit: int = PREVIEW_CHARS) -> str:
    """The first non-blank line of text, cut to limit characters."""
    line = next((l.strip() for l in (text or "").splitlines() if l.strip()), "")
    return line if len(line) <= limit else line[:limit - 1] + "…"


def when(stamp: str | None, now: datetime | None = None) -> str:
    """A stored UTC time as people read it: "14:05" today, "3 Nov 14:05" this year, else the date."""
    if not stamp:
        return ""
    try:
        t = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    t, now = t.astimezone(), (now or datetime.now(UTC)).astimezone()
    if t.date() == now.date():
        return t.strftime("%H:%M")
    if t.year == now.year:
        return f"{t.day} {t.strftime('%b %H:%M')}"
    return t.strftime("%Y-%m-%d")


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class Library:
    """The documents, conversations, versions and trash of one workspace.

    Args:
        ws: the Workspace.
    """

    def __init__(self, ws: Workspace):
        self.ws = ws

    # -- documents ---------------------------------------------------------------------

    def documents(self, query: str = "") -> list[dict]:
        """Documents not in the trash whose name holds every word of query, by name."""
        words = query.casefold().split()
        docs = [d for d in self.ws.prompts.documents()
                if all(w in (d["name"] or "").casefold() for w in words)]
        return sorted(docs, key=lambda d: ((d["name"] or "").casefold(), d["id"]))

    def create_document(self, name: str) -> int:
        """A new document with the default sections."""
        return self.ws.prompts.create(PromptDocument.default(self.ws.prompts.free_name(valid_name(name))))

    def duplicate(self, doc_id: int) -> int:
        return self.ws.prompts.duplicate(doc_id)

    def delete_document(self, doc_id: int) -> tuple[Deleted, int]:
        """Move a document to the trash: the undoable deletion and the active document after."""
        name = self.ws.prompts.load_draft(doc_id).name
        trash_id, active = self.ws.prompts.trash(doc_id)
        return Deleted(trash_id, f"Deleted the prompt “{name}”."), active

    # -- conversations -----------------------------------------------------------------

    def conversations(self, document_id: int | None, query: str = "",
                      keep: int | None = None) -> list[ConversationItem]:
        """The conversations of document_id (None: of every document), newest first; with a
        query, those with a message holding its words (the full-text index), best first.
        Empty ones (candidates never accepted) are left out, except keep (the open one)."""
        items = []
        for r in self.ws.conversations.listing(document_id, query):
            if not r["messages"] and r["id"] != keep:
                continue
            title = one_line(r["first"]) or (r["title"] if r["title"] != "New conversation" else "")
            if r["snippet"]:
                detail = one_line(r["snippet"], 90)
            else:
                detail = f"{plural(r['messages'], 'message')} · {when(r['updated'])}"
            items.append(ConversationItem(r["id"], title or "(no messages yet)", detail,
                                          r["document_id"]))
        return items

    def delete_conversation(self, conversation_id: int) -> Deleted:
        trash_id = self.ws.conversations.delete_conversation(conversation_id)
        title = self.ws.db["trash"].get(trash_id)["title"]
        return Deleted(trash_id, f"Deleted the conversation “{title}”.")

    def delete_message(self, message_id: int) -> Deleted:
        """Move a message and what follows it to the trash."""
        trash_id = self.ws.conversations.delete(message_id)
        n = json.loads(self.ws.db["trash"].get(trash_id)["state"])["count"]
        after = f" and the {plural(n - 1, 'message')} after it" if n > 1 else ""
        return Deleted(trash_id, f"Deleted the message{after}.")

    # -- the trash ---------------------------------------------------------------------

    def trash(self, limit: int = 50) -> list[dict]:
        """What can still be restored, newest first: id, kind, item_id, title, deleted."""
        return list(self.ws.db.query(
            "select id, kind, item_id, title, deleted from trash where restored is null "
            "order by id desc limit ?", [limit]))

    def restore(self, trash_id: int) -> dict:
        """Bring a deleted thing back as it was; returns its trash entry (kind, item_id, and
        conversation_id for messages)."""
        entry = trash_entry(self.ws.db, trash_id)
        if entry["kind"] == "document":
            self.ws.prompts.undelete(trash_id)
        else:
            entry["conversation_id"] = self.ws.conversations.undelete(trash_id)
        return entry

    def empty_trash(self) -> Purged:
        """Remove everything in the trash for good, and leave none of it in the file: the
        full-text index is rewritten without it and the write-ahead log emptied when no one
        else is reading (DatabaseError when it cannot be written)."""
        purged = self._purge(None, scrub=True)
        # Another program reading or writing: not now (and no waiting), the log is reused later.
        with _no_waiting(self.ws.db), contextlib.suppress(sqlite3.Error):
            self.ws.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return purged

    def purge_expired(self, days: int | None = None) -> Purged:
        """Remove for good what was deleted more than days ago (default: trash_days(); 0 keeps
        everything)."""
        days = trash_days() if days is None else days
        return self._purge(trash_cutoff(days)) if days else Purged()

    def retention(self) -> str:
        """How long the trash keeps things, in words for its menu and listing."""
        try:
            days = trash_days()
        except WorkbenchError as e:
            return str(e)
        if not days:
            return "Deleted things are kept until you empty the trash."
        return f"Deleted things are removed for good after {plural(days, 'day')}."

    def _purge(self, before: str | None, scrub: bool = False) -> Purged:
        """Remove for good the trash entries deleted before `before` (None: all of them): the
        trashed documents with their versions, runs, test sets, evaluations and conversations,
        the trashed conversations with their messages and runs, the trashed messages, and the
        entries. One write; the last document is never removed. scrub: rewrite the messages'
        full-text index too (it keeps deleted words until its segments merge; ~0.25 s for
        20,000 messages, so not at every open)."""
        db = self.ws.db
        with _secure_delete(db), db.atomic("emptying of the trash"):
            cond, args = ("where deleted < ?", [before]) if before is not None else ("", [])
            entries = [dict(r) for r in db.query(f"select id, kind, title, restored from trash {cond} "
                                                 "order by id", args)]
            pending = [e for e in entries if e["restored"] is None]
            docs = [dict(r) for r in db.query(
                "select id, trash_id from documents where trash_id in (select value from json_each(?)) "
                "order by trash_id desc", [json.dumps([e["id"] for e in pending])])]
            kept = ""
            if docs and not db["documents"].count_where("trash_id is null"):
                # Never no document at all: the most recently deleted one stays in the trash.
                keep = docs.pop(0)["trash_id"]
                entries = [e for e in entries if e["id"] != keep]
                kept = next(e["title"] for e in pending if e["id"] == keep)
                pending = [e for e in pending if e["id"] != keep]
            doc_ids = [d["id"] for d in docs]
            conv_ids = [r["id"] for r in db.query(
                "select id from conversations where trash_id in (select value from json_each(?)) "
                "or document_id in (select value from json_each(?))",
                [json.dumps([e["id"] for e in pending if e["kind"] == "conversation"]),
                 json.dumps(doc_ids)])]
            conversations, messages, runs = self.ws.conversations.purge(
                conv_ids, [e["id"] for e in pending if e["kind"] == "messages"])
            versions, doc_runs = self.ws.prompts.purge(doc_ids)
            runs += doc_runs
            removed = db.execute("delete from trash where id in (select value from json_each(?))",
                                 [json.dumps([e["id"] for e in entries])]).rowcount
            # Entries whose things went with a purged document or conversation.
            removed += db.execute("""
                delete from trash where restored is null and (
                    kind = 'conversation' and not exists (select 1 from conversations c where c.trash_id = trash.id)
                    or kind = 'messages' and not exists (select 1 from messages m where m.trash_id = trash.id))
                """).rowcount
            if scrub and messages:
                db.execute("insert into messages_fts(messages_fts) values ('optimize')")
        return Purged(removed, len(doc_ids), versions, conversations, messages, runs, kept)

    # -- versions ----------------------------------------------------------------------

    def versions(self, doc_id: int) -> list[Version]:
        """Newest first."""
        return list(reversed(self.ws.prompts.versions(doc_id)))

    def version_into_draft(self, doc_id: int, number: int, draft: PromptDocument) -> PromptDocument:
        """A new draft with version number's content; the draft's name is kept (a name
        changes only by renaming)."""
        v = self.ws.prompts.version(doc_id, number)
        if v.damaged:
            raise WorkbenchError(v.document.notes[0] + " Restore another version.")
        doc = copy_document(v.document)
        doc.name = draft.name
        return doc

    def side_text(self, doc_id: int, side: int | str, draft: PromptDocument) -> tuple[str, str]:
        """A diff side (a version number, or DRAFT): its label and its text."""
        if side == DRAFT:
            return "Current draft", document_text(draft)
        v = self.ws.prompts.version(doc_id, int(side))
        note = f" · {v.note}" if v.note else ""
        return f"Version {v.number}{note} · {when(v.created)}", document_text(v.document)


def purge_at_open(ws: Workspace, days: int) -> Purged | None:
    """Remove what is past a retention of days as a workspace opens (see store.trash_due),
    never in the way of opening: a database another program is writing is left for the next
    time, without waiting. None when nothing was removed."""
    try:
        with _no_waiting(ws.db):
            return Library(ws).purge_expired(days)
    except DatabaseError:  # busy, read-only since, disk full: nothing changed
        return None
    except Exception as e:  # noqa: BLE001 - a bug here must not keep the workspace shut
        report_unexpected(e, "removing old things from the trash")
        return None


@contextlib.contextmanager
def _no_waiting(db):
    """Writes meanwhile give up at once when another program holds the lock (DatabaseBusyError)."""
    wait, db.busy_wait = db.busy_wait, 0.0
    timeout = db.execute("PRAGMA busy_timeout").fetchone()[0]
    db.execute("PRAGMA busy_timeout = 0")
    try:
        yield
    finally:
        db.busy_wait = wait
        db.execute(f"PRAGMA busy_timeout = {int(timeout)}")


@contextlib.contextmanager
def _secure_delete(db):
    """SQLite overwrites what it deletes meanwhile: removed for good is not left in free pages."""
    was = db.execute("PRAGMA secure_delete").fetchone()[0]
    db.execute("PRAGMA secure_delete = ON")
    try:
        yield
    finally:
        db.execute(f"PRAGMA secure_delete = {int(was)}")


def copy_document(doc: PromptDocument) -> PromptDocument:
    return PromptDocument.from_json(doc.to_json())


def version_label(v: Version) -> str:
    """How a version is listed: "v3 · shorter role · 14:05"."""
    note = f" · {one_line(v.note, 50)}" if v.note else ""
    return f"v{v.number}{note} · {when(v.created)}"


# -- diffs ----------------------------------------------------------------------------


def document_text(doc: PromptDocument) -> str:
    """A document as the lines a diff compares: each section under its name, the examples,
    the variables and the sampling settings."""
    out = []
    for s in doc.sections:
        out.append(f"## {s.name}{'' if s.enabled else ' (disabled)'}")
        out += (s.text or "").splitlines() or [""]
        out.append("")
    for i, ex in enumerate(doc.examples, 1):
        out += [f"## example {i}", f"User: {ex.user}", f"Assistant: {ex.assistant}", ""]
    if doc.variables:
        out.append("## variables")
        out += [f"{k} = {v}" for k, v in doc.variables.items()]
        out.append("")
    out.append("## sampling")
    out += [f"{k} = {json.dumps(v)}" for k, v in SamplingParams.from_dict(doc.params).to_dict().items()]
    out.append(f"lesson budget = {doc.lesson_budget} tokens, {doc.retrieval_k} retrieved")
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class DiffRow:
    """One line of a side-by-side diff.

    tag: equal, replace (the line changed), delete (only on the left), insert (only right);
    left/right: the line on each side, None where that side has none; left_spans/right_spans:
    the (start, end) character ranges that changed within a replaced line.
    """

    tag: str
    left: str | None
    right: str | None
    left_spans: list[tuple[int, int]] = field(default_factory=list)
    right_spans: list[tuple[int, int]] = field(default_factory=list)


def side_by_side(a: str, b: str) -> list[DiffRow]:
    """Rows aligning a's lines with b's: equal lines side by side, changed lines paired with
    the characters that changed, added and removed lines against a gap."""
    left, right = a.splitlines(), b.splitlines()
    rows: list[DiffRow] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, left, right, autojunk=False).get_opcodes():
        if tag == "equal":
            rows += [DiffRow("equal", left[i], right[j]) for i, j in zip(range(i1, i2), range(j1, j2))]
            continue
        olds, news = left[i1:i2], right[j1:j2]
        for k in range(max(len(olds), len(news))):
            old = olds[k] if k < len(olds) else None
            new = news[k] if k < len(news) else None
            if old is not None and new is not None:
                rows.append(DiffRow("replace", old, new, *_changed_spans(old, new)))
            else:
                rows.append(DiffRow("delete" if new is None else "insert", old, new))
    return rows


_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
LINE_SIMILAR = 0.4  # less alike than this, two lines are different lines: no words are marked


def _changed_spans(old: str, new: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The word-level ranges that changed between two versions of a line (none when the lines
    have little in common: marking most of both would say less than the line tint does)."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if sm.ratio() < LINE_SIMILAR:
        return [], []
    starts_a, starts_b = _offsets(a), _offsets(b)
    left, right = [], []
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            continue
        if i2 > i1:
            left.append((starts_a[i1], starts_a[i2]))
        if j2 > j1:
            right.append((starts_b[j1], starts_b[j2]))
    return left, right


def _offsets(tokens: list[str]) -> list[int]:
    """Where each token starts in the joined text, and the text's length at the end."""
    out, at = [], 0
    for t in tokens:
        out.append(at)
        at += len(t)
    return out + [at]


def diff_summary(rows: list[DiffRow]) -> str:
    """ "2 lines changed · 1 added · 1 removed", or "No differences"."""
    counts = {t: sum(r.tag == t for r in rows) for t in ("replace", "insert", "delete")}
    parts = [f"{plural(counts['replace'], 'line')} changed" if counts["replace"] else "",
             f"{counts['insert']} added" if counts["insert"] else "",
             f"{counts['delete']} removed" if counts["delete"] else ""]
    return " · ".join(p for p in parts if p) or "No differences"
