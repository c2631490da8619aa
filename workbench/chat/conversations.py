"""Conversations as trees of messages: edit, delete, fork at any message, switch branches."""

import json
from dataclasses import dataclass

from workbench.db import WorkbenchDatabase, get_row, now
from workbench.errors import WorkbenchError
from workbench.fts import fts_query
from workbench.prompt.store import mark_restored, to_trash, trash_entry

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Message:
    id: int
    parent_id: int | None
    role: str
    content: str

    def as_chat(self) -> dict:
        return {"role": self.role, "content": self.content}


class ConversationStore:
    """Messages form a tree (parent_id); a conversation's head is the leaf of the
    branch on screen, and its path from the root is the conversation.

    Args:
        db: an open workbench database.
    """

    def __init__(self, db: WorkbenchDatabase):
        self.db = db

    def create(self, title: str = "New conversation", document_id: int | None = None) -> int:
        """A new, empty conversation; returns its id."""
        with self.db.atomic("new conversation"):
            return self.db["conversations"].insert({
                "title": title, "document_id": document_id, "head_id": None,
                "created": now(), "updated": now()}).last_pk

    def conversations(self) -> list[dict]:
        return list(self.db.query(
            "select id, title, updated from conversations where trash_id is null "
            "order by updated desc, id desc"))

    def summaries(self) -> list[dict]:
        """Every conversation, most recently updated first: id, title, created, updated,
        messages (on the branch on screen) and all_messages (every branch)."""
        return list(self.db.query("""
            with recursive up(conversation_id, id, parent_id) as (
                select c.id, m.id, m.parent_id from conversations c
                join messages m on m.id = c.head_id
                union all
                select up.conversation_id, m.id, m.parent_id
                from messages m join up on m.id = up.parent_id)
            select c.id, c.title, c.created, c.updated,
                   coalesce(p.n, 0) as messages, coalesce(a.n, 0) as all_messages
            from conversations c
            left join (select conversation_id, count(*) as n from up
                       group by conversation_id) p on p.conversation_id = c.id
            left join (select conversation_id, count(*) as n from messages
                       where trash_id is null group by conversation_id) a on a.conversation_id = c.id
            where c.trash_id is null
            order by c.updated desc, c.id desc"""))

    def get(self, conversation_id: int) -> dict:
        """The conversation's row (id, title, document_id, head_id, created, updated)."""
        return self._row(conversation_id)

    def _row(self, conversation_id: int) -> dict:
        return get_row(self.db, "conversations", conversation_id, f"conversation {conversation_id}")

    def _message(self, message_id: int) -> dict:
        row = get_row(self.db, "messages", message_id, f"message {message_id}")
        if row["trash_id"] is not None:
            raise WorkbenchError(f"There is no message {message_id} any more: it was deleted.")
        return row

    def append(self, conversation_id: int, role: str, content: str) -> Message:
        """Add a message after the current head and make it the head."""
        # The head is read inside the write: another writer's message is then this one's
        # parent, not a sibling that forks the conversation.
        with self.db.atomic("message"):
            head = self._row(conversation_id)["head_id"]
            return self._add(conversation_id, head, role, content)

    def _add(self, conversation_id: int, parent_id: int | None, role: str, content: str) -> Message:
        if role not in ROLES:
            raise WorkbenchError(f"A message's role is one of {', '.join(ROLES)}, not {role!r}.")
        with self.db.atomic("message"):
            mid = self.db["messages"].insert({
                "conversation_id": conversation_id, "parent_id": parent_id, "role": role,
                "content": content, "created": now(), "updated": now(),
                # An answer stored here was chosen (Accept); the CLI marks its own unreviewed.
                "accepted": 1 if role == "assistant" else None}).last_pk
            self.db["conversations"].update(conversation_id, {"head_id": mid, "updated": now()})
        return Message(mid, parent_id, role, content)

    def path(self, conversation_id: int) -> list[Message]:
        """The messages of the branch on screen, oldest first."""
        head = self._row(conversation_id)["head_id"]
        rows = self.db.query("""
            with recursive up(id, parent_id, role, content, depth) as (
                select id, parent_id, role, content, 0 from messages where id = ?
                union all
                select m.id, m.parent_id, m.role, m.content, up.depth + 1
                from messages m join up on m.id = up.parent_id)
            select id, parent_id, role, content from up order by depth desc""", [head])
        return [Message(r["id"], r["parent_id"], r["role"], r["content"]) for r in rows]

    def edit(self, message_id: int, content: str) -> None:
        """Change a message in place (its branch keeps its place in the tree)."""
        with self.db.atomic("edited message"):
            m = self._message(message_id)
            reviewed = {"accepted": 1} if m["role"] == "assistant" else {}  # the user wrote it
            self.db["messages"].update(message_id, {"content": content, "updated": now(), **reviewed})

    def set_accepted(self, message_id: int, accepted: bool) -> None:
        """Record whether the user chose this answer (fine-tuning trains only on those)."""
        with self.db.atomic("accepted answer"):
            self._message(message_id)
            self.db["messages"].update(message_id, {"accepted": int(accepted)})

    def accepted(self, conversation_id: int) -> dict[int, bool | None]:
        """Each message's accepted flag (None: not known, stored before it was recorded)."""
        rows = self.db.query("select id, accepted from messages where conversation_id = ?",
                             [conversation_id])
        return {r["id"]: None if r["accepted"] is None else bool(r["accepted"]) for r in rows}

    def fork(self, message_id: int, content: str) -> Message:
        """A new sibling of message_id with other content; both branches are kept and
        the new one becomes the head."""
        m = self._message(message_id)
        return self._add(m["conversation_id"], m["parent_id"], m["role"], content)

    def delete(self, message_id: int) -> int:
        """Move a message and everything after it on every branch to the trash; returns the
        trash entry (undelete brings them back)."""
        with self.db.atomic("deletion of messages"):
            m = self._message(message_id)
            ids = [r["id"] for r in self.db.query("""
                with recursive down(id) as (select ? union all
                    select m.id from messages m join down on m.parent_id = down.id
                    where m.trash_id is null)
                select id from down""", [message_id])]
            conv = self._row(m["conversation_id"])
            trash_id = to_trash(self.db, "messages", message_id, _title(m["content"]),
                                {"conversation_id": conv["id"], "head_id": conv["head_id"],
                                 "count": len(ids)})
            self.db.execute(f"update messages set trash_id = ? where id in ({','.join('?' * len(ids))})",
                            [trash_id, *ids])
            if conv["head_id"] in ids:
                # Another branch from the same place is shown (its newest), else the message before.
                siblings = list(self.db["messages"].rows_where(
                    "conversation_id = ? and parent_id is ? and trash_id is null",
                    [conv["id"], m["parent_id"]], order_by="id desc", limit=1))
                head = self._newest_leaf(siblings[0]["id"]) if siblings else m["parent_id"]
                self.db["conversations"].update(conv["id"], {"head_id": head})
        return trash_id

    def delete_conversation(self, conversation_id: int) -> int:
        """Move a conversation to the trash; returns the trash entry."""
        with self.db.atomic("deletion of the conversation"):
            row = self._row(conversation_id)
            if row["trash_id"] is not None:
                raise WorkbenchError(f"Conversation {conversation_id} is already deleted.")
            first = self.path(conversation_id)[:1]
            trash_id = to_trash(self.db, "conversation", conversation_id,
                                _title(first[0].content if first else row["title"]), {})
            self.db["conversations"].update(conversation_id, {"trash_id": trash_id})
        return trash_id

    def undelete(self, trash_id: int) -> int:
        """Bring deleted messages or a deleted conversation back as they were; returns the
        conversation's id."""
        with self.db.atomic("restored messages"):
            entry = trash_entry(self.db, trash_id)
            if entry["kind"] == "conversation":
                cid = entry["item_id"]
                self.db.execute("update conversations set trash_id = null where trash_id = ?",
                                [trash_id])
            elif entry["kind"] == "messages":
                cid = entry["state"]["conversation_id"]
                self.db.execute("update messages set trash_id = null where trash_id = ?", [trash_id])
                # The branch on screen when they were deleted is shown again; anything
                # written since stays as another branch.
                self.db["conversations"].update(cid, {"head_id": entry["state"]["head_id"],
                                                      "updated": now()})
            else:
                raise WorkbenchError(f"Trash entry {trash_id} holds a {entry['kind']}, not messages.")
            mark_restored(self.db, trash_id)
        return cid

    def purge(self, conversation_ids: list[int], message_entries: list[int]) -> tuple[int, int, int]:
        """Remove trashed conversations for good (conversation_ids: those of trashed documents
        too) with their messages and their runs, and the messages of trash entries
        message_entries; returns (conversations, messages, runs) removed. Call inside the
        purging write; the full-text index follows by its triggers."""
        convs, entries = [json.dumps(conversation_ids)], [json.dumps(message_entries)]
        of_convs = "conversation_id in (select value from json_each(?))"
        # The run log goes with its conversation: each run holds the conversation's messages.
        runs = self.db.execute(f"delete from runs where {of_convs}", convs).rowcount
        messages = self.db.execute(f"delete from messages where {of_convs}", convs).rowcount
        messages += self.db.execute("delete from messages where trash_id is not null and trash_id in "
                                    "(select value from json_each(?))", entries).rowcount
        n = self.db.execute("delete from conversations where id in (select value from json_each(?))",
                            convs).rowcount
        return n, messages, runs

    def siblings(self, message_id: int) -> list[int]:
        """The alternatives at this point of the conversation (including itself), oldest first."""
        m = self._message(message_id)
        where = "conversation_id = ? and parent_id is ? and trash_id is null"
        return [r["id"] for r in self.db["messages"].rows_where(
            where, [m["conversation_id"], m["parent_id"]], order_by="id")]

    def switch_to(self, message_id: int) -> None:
        """Show the branch through message_id, down to its newest leaf."""
        with self.db.atomic("choice of branch"):
            m = self._message(message_id)
            self.db["conversations"].update(m["conversation_id"],
                                            {"head_id": self._newest_leaf(message_id), "updated": now()})

    def _newest_leaf(self, message_id: int) -> int:
        """The end of the branch through message_id that goes by the newest reply each time."""
        leaf = message_id
        while True:
            child = list(self.db["messages"].rows_where("parent_id = ? and trash_id is null", [leaf],
                                                        order_by="id desc", limit=1))
            if not child:
                return leaf
            leaf = child[0]["id"]

    def search(self, query: str, limit: int = 50) -> list[dict]:
        """Messages in any conversation matching the text, best first, with highlights."""
        q = fts_query(query)
        if not q:
            return []
        return list(self.db.query("""
            select messages.id, messages.conversation_id, messages.role, messages.content,
                   snippet(messages_fts, 0, '[', ']', '…', 12) as snippet
            from messages_fts join messages on messages.rowid = messages_fts.rowid
            join conversations c on c.id = messages.conversation_id
            where messages_fts match ? and messages.trash_id is null and c.trash_id is null
            order by bm25(messages_fts) limit ?""", [q, limit]))

    def listing(self, document_id: int | None = None, query: str = "", limit: int = 200) -> list[dict]:
        """Conversations for a list, most recently updated first: id, title, document_id,
        updated, messages (not deleted, every branch), first (the first user message) and
        snippet (with a query: its best matching message, matches in [brackets]); only those
        of document_id when given, and with a query only those with a matching message, best
        match first."""
        snippets: dict[int, str] = {}
        if query.strip():
            for hit in self.search(query, limit=1000):  # best first: keep each one's best
                snippets.setdefault(hit["conversation_id"], hit["snippet"])
            if not snippets:
                return []
        # A prompt's conversations leave the lists with it while it is in the trash.
        where = ["c.trash_id is null", "c.document_id is null or c.document_id not in "
                 "(select id from documents where trash_id is not null)"]
        args: list = []
        if document_id is not None:
            where.append("c.document_id = ?")
            args.append(document_id)
        if snippets:
            where.append(f"c.id in ({','.join('?' * len(snippets))})")
            args += list(snippets)
        rows = [dict(r, snippet=snippets.get(r["id"])) for r in self.db.query(f"""
            select c.id, c.title, c.document_id, c.updated,
                   (select count(*) from messages m where m.conversation_id = c.id
                    and m.trash_id is null) as messages,
                   (select m.content from messages m where m.conversation_id = c.id
                    and m.trash_id is null and m.role = 'user' order by m.id limit 1) as first
            from conversations c where {" and ".join(f"({w})" for w in where)}
            order by c.updated desc, c.id desc {"" if snippets else "limit ?"}""",
            args if snippets else [*args, limit])]
        if snippets:
            rank = {cid: i for i, cid in enumerate(snippets)}
            rows.sort(key=lambda r: rank[r["id"]])
        return rows[:limit]

def _title(text: str, limit: int = 60) -> str:
    """The first line of text, cut to limit characters: how a deleted thing is named."""
    line = next((l.strip() for l in (text or "").splitlines() if l.strip()), "") or "(empty)"
    return line if len(line) <= limit else line[:limit - 1] + "…"
