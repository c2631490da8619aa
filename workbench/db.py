"""The SQLite file: where it lives, how it is opened, how writes take turns, and its migrations.

Writes wait their turn: every write is one `db.atomic(what)` block that begins IMMEDIATE, so
SQLite's busy timeout applies (a deferred transaction that reads first and then writes
fails at once with SQLITE_BUSY_SNAPSHOT when another writer got in between, never
waiting). A lock held past the bound is a DatabaseBusyError, and a read-only file opens
read-only with a notice instead of failing on its first write.
"""

import contextlib
import os
import sqlite3
import sys
import time
from pathlib import Path

import platformdirs

# sqlite-utils imports numpy when it is installed, only to map numpy values to column types; the
# workbench stores none, and numpy costs ~0.1 s of every start (llama_cpp imports it later, for
# itself). Hidden for that one import: `import numpy` then raises ImportError, which it expects.
_numpy_hidden = "numpy" not in sys.modules
if _numpy_hidden:
    sys.modules["numpy"] = None
try:
    import sqlite_utils
finally:
    if _numpy_hidden and sys.modules.get("numpy", 0) is None:
        del sys.modules["numpy"]

from workbench.errors import WorkbenchError

MIGRATION_SET = "workbench"
migrations = sqlite_utils.Migrations(MIGRATION_SET)

# How long, in all, a write waits for another writer before giving up (seconds); the
# environment variable lets a script choose to fail sooner or wait longer.
WRITE_WAIT_S = 10.0
WAIT_ENV = "WORKBENCH_DB_WAIT"
# SQLite's own busy handler waits (sleeping in growing steps) up to this long per attempt;
# attempts repeat, with backoff, until the total wait is spent.
ATTEMPT_WAIT_S = 5.0
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class DatabaseError(WorkbenchError):
    """The database cannot be used: locked, read-only, from a newer version, or damaged."""


class DatabaseBusyError(DatabaseError):
    """Another program held the write lock past the bound. Nothing was written: keep the
    unsaved thing and call the same store method again later."""

    def __init__(self, path: Path, what: str, waited: float | None = None,
                 message: str | None = None):
        self.path, self.what, self.waited = path, what, waited
        waited_for = f" (waited {waited:g} s)" if waited else ""
        super().__init__(message or (
            f"The database {path} is busy: another Prompt Workbench (or program) is writing "
            f"to it; your {what} was not saved yet{waited_for}. Nothing was changed; try "
            "again once the other one has finished."))


class DatabaseReadOnlyError(DatabaseError):
    """A write to a read-only database: refused before anything changed."""


class WorkbenchDatabase(sqlite_utils.Database):
    """sqlite-utils' Database whose writes begin IMMEDIATE, wait their turn, and explain
    themselves when the file is busy, read-only or full.

    Attributes:
        path: the database file.
        read_only: True when it was opened read-only; notice then says why, for the user.
        busy_wait: seconds a write waits in all for another writer.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, read_only_reason: str | None,
                 busy_wait: float):
        # Set before sqlite-utils runs its first statement: execute() reads them.
        self.path, self.busy_wait = path, busy_wait
        self.read_only_reason = read_only_reason
        self._what: str | None = None
        # No sqlite-utils plugins are used; scanning every package's entry points cost ~0.05 s.
        super().__init__(conn, execute_plugins=False)

    @property
    def read_only(self) -> bool:
        """Whether writes are refused (see notice)."""
        return self.read_only_reason is not None

    @property
    def notice(self) -> str | None:
        """What to tell the user about a read-only database (None when it is writable)."""
        if not self.read_only:
            return None
        return (f"The database {self.path} is read-only ({self.read_only_reason}): everything "
                "can be read, but no change can be saved. Make the file and its folder "
                "writable and reopen Prompt Workbench to save changes.")

    def _read_only_error(self, what: str) -> DatabaseReadOnlyError:
        return DatabaseReadOnlyError(
            f"The database {self.path} is read-only ({self.read_only_reason}): your {what} "
            "was not saved and nothing was changed. Make the file and its folder writable, "
            "then try again.")

    @contextlib.contextmanager
    def atomic(self, what: str = "change"):
        """One all-or-nothing write. what names it for messages ("lesson", "draft").

        The outermost block takes the write lock up front (BEGIN IMMEDIATE); nested blocks
        (including sqlite-utils' own, inside insert/update) are savepoints within it.
        Raises DatabaseBusyError when the lock stays taken past busy_wait, and
        DatabaseReadOnlyError on a read-only database; in both cases nothing was written.
        """
        if self.read_only:
            raise self._read_only_error(what)
        if self.conn.in_transaction:
            with super().atomic():
                yield self
            return
        self._begin(what)
        self._what = what
        try:
            yield self
            self.conn.execute("COMMIT")
        except BaseException as e:
            self.rollback()
            better = self._translate(e, what) if isinstance(e, sqlite3.Error) else None
            if better is not None:
                raise better from e
            raise
        finally:
            self._what = None

    def _begin(self, what: str) -> None:
        deadline = time.monotonic() + self.busy_wait
        delay = 0.005
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                # SQLite has already waited up to ATTEMPT_WAIT_S; BUSY without waiting
                # (a stale snapshot, recovery after a crash) comes back at once.
                if _code(e) not in _BUSY:
                    raise self._translate(e, what) or e
                if time.monotonic() + delay >= deadline:
                    raise DatabaseBusyError(self.path, what, self.busy_wait) from e
                time.sleep(delay)  # backoff before the next attempt
                delay = min(delay * 2, 0.25)

    def execute(self, sql, parameters=None) -> sqlite3.Cursor:
        """sqlite-utils' execute, with busy/read-only/full errors explained."""
        try:
            return super().execute(sql, parameters)
        except sqlite3.OperationalError as e:
            better = self._translate(e, self._what or "change")
            if better is None:
                raise
            raise better from e

    def _translate(self, e: sqlite3.Error, what: str) -> DatabaseError | None:
        """A DatabaseError a person can act on, or None for errors that are bugs."""
        code = _code(e)
        if code in _BUSY:
            return DatabaseBusyError(self.path, what)
        if code == sqlite3.SQLITE_READONLY:
            # Read-only in a way the checks at open could not see (a read-only mount,
            # a file made immutable since): from now on writes are refused up front.
            self.read_only_reason = self.read_only_reason or f"SQLite said: {e}"
            return self._read_only_error(what)
        if code == sqlite3.SQLITE_FULL:
            return DatabaseError(f"The disk holding {self.path} is full: your {what} was not "
                                 "saved and nothing was changed. Free some space, then try again.")
        if code == sqlite3.SQLITE_IOERR:
            return DatabaseError(f"Could not write {self.path} ({e}): your {what} was not "
                                 "saved and nothing was changed.")
        return None


def _code(e: sqlite3.Error) -> int:
    """The primary SQLite result code (extended codes such as BUSY_SNAPSHOT included)."""
    return (getattr(e, "sqlite_errorcode", None) or 0) & 0xFF


def data_home() -> Path:
    """WORKBENCH_HOME, or the platform's user data folder."""
    return Path(os.environ.get("WORKBENCH_HOME") or platformdirs.user_data_dir("prompt-workbench"))


def default_db_path() -> Path:
    """The database file in the data folder."""
    return data_home() / "workbench.db"


def _env_wait() -> float:
    try:
        return max(0.0, float(os.environ.get(WAIT_ENV, WRITE_WAIT_S)))
    except ValueError:
        raise DatabaseError(f"{WAIT_ENV} must be a number of seconds, not "
                            f"{os.environ[WAIT_ENV]!r}.") from None


def open_db(path: str | Path | None = None, *, read_only: bool = False,
            busy_wait: float | None = None) -> WorkbenchDatabase:
    """Open (creating and migrating as needed) the workbench database.

    Args:
        read_only: open it read-only even if it could be written.
        busy_wait: seconds a write waits for another writer (default WORKBENCH_DB_WAIT, or
            WRITE_WAIT_S).

    A database that cannot be written (file or folder without write permission, immutable,
    read-only file system) opens read-only: db.read_only is True, db.notice says why, and
    every write raises DatabaseReadOnlyError.
    """
    path = Path(path) if path else default_db_path()
    wait = _env_wait() if busy_wait is None else busy_wait
    reason = "opened read-only on request" if read_only else _why_read_only(path)
    try:
        if reason is None:
            try:
                return _open_writable(path, wait)
            except DatabaseReadOnlyError as e:
                reason = f"SQLite said: {e.__cause__ or 'writes are refused'}"
            except sqlite3.OperationalError as e:
                if _code(e) not in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN) \
                        or not path.exists():
                    raise
                reason = f"SQLite said: {e}"
        return _open_read_only(path, reason, wait)
    except (sqlite3.DatabaseError, DatabaseBusyError) as e:
        raise _explain(e, path) from e


def _why_read_only(path: Path) -> str | None:
    """Why this database can only be read (None: it can be written), creating its folder."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatabaseError(f"Cannot create the data folder {folder} ({e.strerror or e}). "
                            "Set WORKBENCH_HOME to a folder you can write to.") from None
    # Root passes permission checks; os.access still reports immutable files and
    # read-only file systems.
    folder_ok = os.access(folder, os.W_OK | os.X_OK)
    if not path.exists():
        if not folder_ok:
            raise DatabaseError(f"Cannot create the database {path}: its folder is not "
                                "writable. Set WORKBENCH_HOME to a folder you can write to.")
        return None
    if not os.access(path, os.W_OK):
        return "the file is not writable"
    if not folder_ok:
        # SQLite keeps its -wal and -shm files beside the database.
        return "its folder is not writable"
    return None


def _connect(target: str, wait: float, uri: bool = False) -> sqlite3.Connection:
    # isolation_level=None: the sqlite3 module opens no implicit (deferred) transactions
    # of its own; every transaction is an explicit BEGIN IMMEDIATE from atomic().
    return sqlite3.connect(target, uri=uri, timeout=min(ATTEMPT_WAIT_S, wait),
                           check_same_thread=False, isolation_level=None)


def _open_writable(path: Path, wait: float) -> WorkbenchDatabase:
    db = WorkbenchDatabase(_connect(str(path), wait), path, None, wait)
    try:
        # WAL lets a second running instance read while this one writes.
        db.enable_wal()
        db.execute("PRAGMA foreign_keys = ON")
        _check_not_newer(db, path)
        if migrations.pending(db):
            # One transaction: two instances opening a new file at once do not both
            # create its tables; the second finds them made.
            with db.atomic("upgrade of the database to this version"):
                migrations.apply(db)
    except BaseException:
        db.close()
        raise
    return db


def _open_read_only(path: Path, reason: str, wait: float) -> WorkbenchDatabase:
    uri = path.resolve().as_uri() + "?mode=ro"
    conn = _connect(uri, wait, uri=True)
    try:
        conn.execute("select count(*) from sqlite_master").fetchone()
    except sqlite3.OperationalError as e:
        conn.close()
        # A WAL database needs its -shm file, which a read-only folder cannot hold. With
        # no -wal file left over every change is in the file itself, so it can be read as
        # an unchanging file.
        wal = Path(f"{path}-wal")
        if _code(e) != sqlite3.SQLITE_CANTOPEN or (wal.exists() and wal.stat().st_size):
            raise
        conn = _connect(uri + "&immutable=1", wait, uri=True)
    db = WorkbenchDatabase(conn, path, reason, wait)
    db.execute("PRAGMA foreign_keys = ON")
    _check_not_newer(db, path)
    if migrations.pending(db):
        db.close()
        raise DatabaseError(f"{path} needs upgrading to this version of Prompt Workbench, but "
                            f"it is read-only ({reason}). Make the file and its folder "
                            "writable and open it again; nothing was changed.")
    return db


def _check_not_newer(db: sqlite_utils.Database, path: Path) -> None:
    known = {m.name for m in migrations._migrations}
    unknown = [m.name for m in migrations.applied(db) if m.name not in known]
    if unknown:
        raise DatabaseError(
            f"{path} was written by a newer version of Prompt Workbench (schema step "
            f"{unknown[-1]}). Update the app; the file has not been changed.")


def _explain(e: Exception, path: Path) -> DatabaseError:
    if isinstance(e, DatabaseError) and not isinstance(e, DatabaseBusyError):
        return e
    text = str(e).lower()
    if "locked" in text or "busy" in text:
        return DatabaseBusyError(path, "opening", message=(
            f"The database {path} is locked by another program. "
            "Close the other Prompt Workbench window and try again."))
    if "not a database" in text or "malformed" in text:
        return DatabaseError(f"{path} is damaged or not a Prompt Workbench database ({e}). "
                             "Move it aside to start fresh; nothing was changed.")
    return DatabaseError(f"Database error in {path}: {e}")


def get_row(db: sqlite_utils.Database, table: str, pk: int, what: str) -> dict:
    """The row of table (keyed by id) whose id is pk, or WorkbenchError("There is no WHAT.")."""
    # Plain SQL: sqlite-utils' Table.get reads the table's schema first, every call.
    cursor = db.execute(f"select * from {sqlite_utils.db.quote_identifier(table)} where id = ?",
                        [pk])
    row = cursor.fetchone()
    if row is None:
        raise WorkbenchError(f"There is no {what}.")
    return dict(zip([d[0] for d in cursor.description], row))


def now() -> str:
    """The current UTC time, as the database stores it."""
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


# -- m007..m009 are reserved for evaluations (test sets, runs); insert them here -----


@migrations()
def m007_create_test_sets(db):
    # Several test sets per prompt document; a case's checks and variables are JSON lists/objects
    # (see evals/checks.py for what each check means).
    db["test_sets"].create({"id": int, "document_id": int, "name": str, "created": str,
                            "updated": str}, pk="id")
    db["test_sets"].create_index(["document_id", "name"], unique=True)
    db["test_cases"].create({"id": int, "set_id": int, "position": int, "query": str, "vars": str,
                             "checks": str, "ideal": str, "split": str}, pk="id",
                            foreign_keys=[("set_id", "test_sets", "id")], defaults={"split": "train"})
    db["test_cases"].create_index(["set_id", "position"])


@migrations()
def m008_create_eval_runs(db):
    # Every evaluation is kept: its columns (prompt variant x model) and one cell per case,
    # column and repeat, so each prompt version carries its scores over time.
    db["eval_runs"].create({"id": int, "created": str, "kind": str, "document_id": int,
                            "set_id": int, "set_name": str, "repeats": int, "seed": int,
                            "params": str, "status": str, "seconds": float, "cases": str}, pk="id")
    db["eval_columns"].create({"id": int, "run_id": int, "position": int, "label": str,
                               "version_id": int, "version_number": int, "model_name": str,
                               "model_file": str, "mode": str, "passed": int, "total": int,
                               "cases_passed": int}, pk="id",
                              foreign_keys=[("run_id", "eval_runs", "id")])
    db["eval_columns"].create_index(["run_id", "position"])
    db["eval_columns"].create_index(["version_id"])
    db["eval_cells"].create({"id": int, "run_id": int, "column_index": int, "case_index": int,
                             "repeat": int, "seed": int, "output": str, "passed": int,
                             "verdicts": str, "prompt": str, "prompt_tokens": int,
                             "reused_tokens": int, "completion_tokens": int, "seconds": float,
                             "error": str}, pk="id", foreign_keys=[("run_id", "eval_runs", "id")])
    db["eval_cells"].create_index(["run_id", "column_index", "case_index"])


@migrations()
def m009_add_proposal_evidence(db):
    # Who wrote a proposal's rule ("user", "model", "tasks") and, for lessons learned from a
    # task set, what validated it (JSON: train before/after, gained, lost, tokens, placement).
    db["proposals"].add_column("author", str)
    db["proposals"].add_column("evidence", str)


# -- m010..m012 are reserved for the prompt library (trash, undo); insert them here --


@migrations()
def m010_create_trash(db):
    # Deleting moves a document, a conversation or messages to the trash: the rows stay,
    # marked with their trash entry, so undo (and restore from the trash) loses nothing.
    db["trash"].create({"id": int, "kind": str, "item_id": int, "title": str, "state": str,
                        "deleted": str, "restored": str}, pk="id")
    for table in ("documents", "conversations", "messages"):
        db[table].add_column("trash_id", int)
    db["messages"].create_index(["trash_id"])


@migrations()
def m011_index_lesson_demonstrations(db):
    # Retrieval finds a lesson by the words of its demonstration's question too: a rule names
    # its situation in general words ("When you give a weight"), questions ask in others
    # ("How heavy is a lion?") much like the demonstration does. The index is rebuilt with the
    # new column, and its triggers with it.
    db["lessons"].enable_fts(["text", "tags", "demo_query"], create_triggers=True,
                             tokenize="porter", replace=True)


# -- m013..m014 are reserved for exports (accepted answers, generating prompt); here --


@migrations()
def m013_add_message_accepted(db):
    # Whether the user chose this answer (the window's Accept, or an edit): 1 yes, 0 no (a
    # command-line chat stores its answer unreviewed), NULL not known (stored before this).
    # Fine-tuning trains only on accepted answers.
    db["messages"].add_column("accepted", int)


@migrations()
def m014_index_trash_deleted(db):
    # Every open asks whether anything in the trash is past its retention: one index lookup,
    # however full the trash.
    db["trash"].create_index(["deleted"])
