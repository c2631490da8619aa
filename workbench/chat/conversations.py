"""Conversations as trees of messages: edit, delete, fork at any message, switch branches."""

from dataclasses import dataclass

from workbench.db import WorkbenchDatabase, get_row, now
from workbench.errors import WorkbenchError
from workbench.fts import fts_query

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
            "select id, title, updated from conversations order by updated desc, id desc"))

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
                       group by conversation_id) a on a.conversation_id = c.id
            order by c.updated desc, c.id desc"""))

    def get(self, conversation_id: int) -> dict:
        """The conversation's row (id, title, document_id, head_id, created, updated)."""
        return self._row(conversation_id)

    def _row(self, conversation_id: int) -> dict:
        return get_row(self.db, "conversations", conversation_id, f"conversation {conversation_id}")

    def _message(self, message_id: int) -> dict:
        return get_row(self.db, "messages", message_id, f"message {message_id}")

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
                "content": content, "created": now(), "updated": now()}).last_pk
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
            self._message(message_id)
            self.db["messages"].update(message_id, {"content": content, "updated": now()})

    def fork(self, message_id: int, content: str) -> Message:
        """A new sibling of message_id with other content; both branches are kept and
        the new one becomes the head."""
        m = self._message(message_id)
        return self._add(m["conversation_id"], m["parent_id"], m["role"], content)

    def delete(self, message_id: int) -> None:
        """Delete a message and everything after it on every branch."""
        with self.db.atomic("deletion of messages"):
            m = self._message(message_id)
            ids = [r["id"] for r in self.db.query("""
                with recursive down(id) as (select ? union all
                    select m.id from messages m join down on m.parent_id = down.id)
                select id from down""", [message_id])]
            conv = self._row(m["conversation_id"])
            if conv["head_id"] in ids:
                self.db["conversations"].update(conv["id"], {"head_id": m["parent_id"]})
            self.db.execute(f"delete from messages where id in ({','.join('?' * len(ids))})", ids)

    def siblings(self, message_id: int) -> list[int]:
        """The alternatives at this point of the conversation (including itself), oldest first."""
        m = self._message(message_id)
        where = "conversation_id = ? and parent_id is ?"
        return [r["id"] for r in self.db["messages"].rows_where(
            where, [m["conversation_id"], m["parent_id"]], order_by="id")]

    def switch_to(self, message_id: int) -> None:
        """Show the branch through message_id, down to its newest leaf."""
        with self.db.atomic("choice of branch"):
            m = self._message(message_id)
            leaf = message_id
            while True:
                child = list(self.db["messages"].rows_where("parent_id = ?", [leaf],
                                                            order_by="id desc", limit=1))
                if not child:
                    break
                leaf = child[0]["id"]
            self.db["conversations"].update(m["conversation_id"],
                                            {"head_id": leaf, "updated": now()})

    def search(self, query: str, limit: int = 50) -> list[dict]:
        """Messages in any conversation matching the text, best first, with highlights."""
        q = fts_query(query)
        if not q:
            return []
        return list(self.db.query("""
            select messages.id, messages.conversation_id, messages.role, messages.content,
                   snippet(messages_fts, 0, '[', ']', '…', 12) as snippet
            from messages_fts join messages on messages.rowid = messages_fts.rowid
            where messages_fts match ? order by bm25(messages_fts) limit ?""", [q, limit]))
