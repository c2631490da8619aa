"""The SQLite file: where it lives, how it is opened, and its append-only migrations."""

import os
import sqlite3
from pathlib import Path

import platformdirs
import sqlite_utils

from .errors import WorkbenchError

MIGRATION_SET = "workbench"
migrations = sqlite_utils.Migrations(MIGRATION_SET)


class DatabaseError(WorkbenchError):
    """The database cannot be used: locked, from a newer version, or damaged."""


def data_home() -> Path:
    """WORKBENCH_HOME, or the platform's user data folder."""
    return Path(os.environ.get("WORKBENCH_HOME") or platformdirs.user_data_dir("prompt-workbench"))


def default_db_path() -> Path:
    return data_home() / "workbench.db"


def open_db(path: str | Path | None = None) -> sqlite_utils.Database:
    """Open (creating and migrating as needed) the workbench database."""
    path = Path(path) if path else default_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, timeout=5.0, check_same_thread=False)
        db = sqlite_utils.Database(conn)
        # WAL lets a second running instance read while this one writes; the busy
        # timeout makes writers wait their turn instead of failing at once.
        db.execute("PRAGMA busy_timeout = 5000")
        db.enable_wal()
        db.execute("PRAGMA foreign_keys = ON")
        _check_not_newer(db, path)
        migrations.apply(db)
    except sqlite3.DatabaseError as e:
        raise _explain(e, path) from e
    return db


def _check_not_newer(db: sqlite_utils.Database, path: Path) -> None:
    known = {m.name for m in migrations._migrations}
    unknown = [m.name for m in migrations.applied(db) if m.name not in known]
    if unknown:
        raise DatabaseError(
            f"{path} was written by a newer version of Prompt Workbench (schema step "
            f"{unknown[-1]}). Update the app; the file has not been changed.")


def _explain(e: sqlite3.DatabaseError, path: Path) -> DatabaseError:
    text = str(e).lower()
    if "locked" in text or "busy" in text:
        return DatabaseError(f"The database {path} is locked by another program. "
                             "Close the other Prompt Workbench window and try again.")
    if "not a database" in text or "malformed" in text:
        return DatabaseError(f"{path} is damaged or not a Prompt Workbench database ({e}). "
                             "Move it aside to start fresh; nothing was changed.")
    return DatabaseError(f"Database error in {path}: {e}")


def now() -> str:
    from datetime import datetime, timezone
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# -- migrations: append only; never edit one that has shipped ------------------


@migrations()
def m001_create_prompts(db):
    db["documents"].create({"id": int, "name": str, "draft": str, "created": str,
                            "updated": str}, pk="id")
    db["versions"].create({"id": int, "document_id": int, "number": int, "content": str,
                           "content_hash": str, "note": str, "created": str}, pk="id",
                          foreign_keys=[("document_id", "documents", "id")])
    db["versions"].create_index(["document_id", "number"], unique=True)
    db["settings"].create({"key": str, "value": str}, pk="key")


@migrations()
def m002_create_conversations(db):
    db["conversations"].create({"id": int, "title": str, "document_id": int, "head_id": int,
                                "created": str, "updated": str}, pk="id")
    db["messages"].create({"id": int, "conversation_id": int, "parent_id": int, "role": str,
                           "content": str, "created": str, "updated": str}, pk="id",
                          foreign_keys=[("conversation_id", "conversations", "id")])
    db["messages"].create_index(["conversation_id", "parent_id"])
    db["messages"].enable_fts(["content"], create_triggers=True, tokenize="porter")


@migrations()
def m003_create_runs(db):
    db["runs"].create({
        "id": int, "created": str, "document_id": int, "version_id": int,
        "conversation_id": int, "model_name": str, "model_file": str, "model_sha256": str,
        "mode": str, "params": str, "rendered_prompt": str, "messages": str, "output": str,
        "stats": str, "lesson_ids": str, "rating": int, "comment": str,
    }, pk="id")
    db["model_hashes"].create({"path": str, "size": int, "mtime": float, "sha256": str},
                              pk="path")


@migrations()
def m004_create_lessons(db):
    db["lessons"].create({
        "id": int, "text": str, "tags": str, "source": str, "status": str, "pinned": int,
        "helpful": int, "harmful": int, "run_id": int, "created": str, "updated": str,
    }, pk="id", defaults={"status": "active", "pinned": 0, "helpful": 0, "harmful": 0,
                          "tags": "[]", "source": "user"})
    db["lessons"].create_index(["status", "pinned"])
    db["lessons"].enable_fts(["text", "tags"], create_triggers=True, tokenize="porter")
    db["lesson_events"].create({
        "id": int, "lesson_id": int, "action": str, "before": str, "after": str,
        "source": str, "reason": str, "run_id": int, "created": str,
    }, pk="id", foreign_keys=[("lesson_id", "lessons", "id")])
    db["lesson_events"].create_index(["lesson_id"])


@migrations()
def m005_add_lesson_demonstration(db):
    # A lesson may carry a demonstration: a question and its ideal answer. Small
    # models follow shown examples far better than written rules.
    db["lessons"].add_column("demo_query", str)
    db["lessons"].add_column("demo_answer", str)


@migrations()
def m006_create_proposals(db):
    db["proposals"].create({
        "id": int, "rule": str, "reason": str, "tags": str, "demo_query": str,
        "demo_answer": str, "origin": str, "run_id": int, "status": str, "verdict": str,
        "related_id": int, "lesson_id": int, "created": str, "decided": str,
    }, pk="id", defaults={"status": "pending"})
