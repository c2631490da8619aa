"""The trash empties itself: entries older than the retention are removed for good when the
workspace opens, and emptying it by hand removes everything; real SQLite files, entries aged by
writing their deletion time into the past."""

import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.test_db_concurrency import _read_only
from workbench.chat.library import Library
from workbench.chat.runs import RunRecord
from workbench.db import DatabaseBusyError, DatabaseReadOnlyError, get_row
from workbench.errors import WorkbenchError
from workbench.prompt.store import TRASH_DAYS, TRASH_DAYS_ENV, to_trash
from workbench.workspace import Workspace


def age(ws: Workspace, trash_id: int, days: float) -> None:
    """Pretend trash entry trash_id was deleted days ago (stored as the stores store it)."""
    stamp = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    ws.db.execute("update trash set deleted = ? where id = ?", [stamp, trash_id])


def reopen(ws: Workspace) -> Workspace:
    """The same file opened again, as the window's start or the next command does."""
    path = ws.db.path
    ws.db.close()
    return Workspace.open(path)


def conversation(ws: Workspace, doc_id: int, *texts: str) -> int:
    cid = ws.conversations.create(document_id=doc_id)
    for i, text in enumerate(texts):
        ws.conversations.append(cid, "user" if i % 2 == 0 else "assistant", text)
    return cid


def log_run(ws: Workspace, doc_id: int, cid: int | None, output: str) -> int:
    return ws.runs.log(RunRecord(model_file="stand-in.gguf", model_name="stand-in", mode="chat",
                                 params={}, rendered_prompt="", messages=[], output=output, stats={},
                                 document_id=doc_id, conversation_id=cid, model_sha256=""))


def found(ws: Workspace, word: str) -> list[int]:
    """Conversations the library's message search finds for word."""
    return [c.id for c in Library(ws).conversations(None, word)]


def fts_rows(ws: Workspace, word: str) -> int:
    """Rows of the full-text index itself that hold word (not only what the joins show)."""
    return ws.db.execute("select count(*) from messages_fts where messages_fts match ?",
                         [word]).fetchone()[0]


@pytest.fixture
def filled(ws):
    """A workspace with live work and, in the trash: an old prompt (with versions, a
    conversation, runs, a test set and an evaluation), an old conversation, old messages, and
    a recent prompt and conversation."""
    lib = Library(ws)
    keep = ws.prompts.active_id()
    ids = {"keep": keep}
    ids["live"] = conversation(ws, keep, "Tell me about otters", "Otters hold hands.",
                               "And walruses?", "Walruses have tusks.")
    ids["live_run"] = log_run(ws, keep, ids["live"], "Otters hold hands.")
    ids["old_doc"] = lib.create_document("Secret plan")
    doc = ws.prompts.load_draft(ids["old_doc"])
    doc.variables["plan"] = "secret"
    ws.prompts.save_version(ids["old_doc"], doc, "second")
    ids["old_doc_conv"] = conversation(ws, ids["old_doc"], "zebra crossing plans", "Noted.")
    ids["old_doc_run"] = log_run(ws, ids["old_doc"], ids["old_doc_conv"], "Noted.")
    ids["old_doc_rerun"] = log_run(ws, ids["old_doc"], None, "a re-run of no conversation")
    set_id = ws.db["test_sets"].insert({"document_id": ids["old_doc"], "name": "secret set",
                                        "created": "", "updated": ""}).last_pk
    ws.db["test_cases"].insert({"set_id": set_id, "position": 0, "query": "q", "checks": "[]"})
    eval_id = ws.db["eval_runs"].insert({"document_id": ids["old_doc"], "set_id": set_id}).last_pk
    ws.db["eval_columns"].insert({"run_id": eval_id, "position": 0, "label": "draft"})
    ws.db["eval_cells"].insert({"run_id": eval_id, "column_index": 0, "case_index": 0})
    ids["keep_set"] = ws.db["test_sets"].insert({"document_id": keep, "name": "kept set"}).last_pk
    ids["old_doc_entry"], _ = lib.delete_document(ids["old_doc"])
    ids["old_doc_entry"] = ids["old_doc_entry"].trash_id

    ids["old_conv"] = conversation(ws, keep, "platypus question", "Platypus answer.")
    ids["old_conv_run"] = log_run(ws, keep, ids["old_conv"], "Platypus answer.")
    ids["old_conv_entry"] = lib.delete_conversation(ids["old_conv"]).trash_id
    walrus = ws.conversations.path(ids["live"])[2].id
    ids["old_msgs_entry"] = lib.delete_message(walrus).trash_id

    ids["new_doc"] = lib.create_document("Recent draft")
    ids["new_doc_entry"] = lib.delete_document(ids["new_doc"])[0].trash_id
    ids["new_conv"] = conversation(ws, keep, "narwhal question", "Narwhal answer.")
    ids["new_conv_entry"] = lib.delete_conversation(ids["new_conv"]).trash_id
    for key in ("old_doc_entry", "old_conv_entry", "old_msgs_entry"):
        age(ws, ids[key], TRASH_DAYS + 1)
    age(ws, ids["new_doc_entry"], TRASH_DAYS - 1)  # a day to go: still restorable
    return ws, ids


def test_old_entries_are_removed_for_good_at_open_and_recent_ones_stay_restorable(filled):
    ws, ids = filled
    ws = reopen(ws)
    lib = Library(ws)
    assert [e["id"] for e in lib.trash()] == [ids["new_conv_entry"], ids["new_doc_entry"]]
    assert [d["name"] for d in ws.prompts.documents(trashed=True)] == ["Recent draft"]
    # The old prompt is gone with everything that was its: versions, conversations, runs,
    # test sets and evaluations.
    db = ws.db
    for table, where in [("documents", "id = ?"), ("versions", "document_id = ?"),
                         ("conversations", "document_id = ?"), ("runs", "document_id = ?"),
                         ("test_sets", "document_id = ?"), ("eval_runs", "document_id = ?")]:
        assert db[table].count_where(where, [ids["old_doc"]]) == 0, table
    assert db["test_cases"].count == 0 and db["eval_columns"].count == 0 and db["eval_cells"].count == 0
    # The old conversation went with its messages and runs; the old messages went.
    assert db["conversations"].count_where("id = ?", [ids["old_conv"]]) == 0
    assert db["runs"].count_where("conversation_id = ?", [ids["old_conv"]]) == 0
    for word in ("zebra", "platypus", "walruses"):
        assert found(ws, word) == [] and fts_rows(ws, word) == 0, word
    assert db["messages"].count_where("trash_id is not null") == 0
    assert db["messages"].count_where("conversation_id = ?", [ids["new_conv"]]) == 2
    # Nothing outside the trash was touched.
    assert [m.content for m in ws.conversations.path(ids["live"])] == [
        "Tell me about otters", "Otters hold hands."]
    assert found(ws, "otters") == [ids["live"]]
    assert ws.runs.get(ids["live_run"])["output"] == "Otters hold hands."
    assert db["test_sets"].count_where("id = ?", [ids["keep_set"]]) == 1
    assert ws.prompts.active_id() == ids["keep"]
    # What is recent is still restorable, as it was.
    lib.restore(ids["new_doc_entry"])
    lib.restore(ids["new_conv_entry"])
    assert "Recent draft" in [d["name"] for d in lib.documents()]
    assert found(ws, "narwhal") == [ids["new_conv"]]
    # What was removed says so when asked for (an Undo kept too long, an old ID).
    with pytest.raises(WorkbenchError, match="removed for good"):
        lib.restore(ids["old_doc_entry"])


def test_emptying_the_trash_removes_everything_in_it_and_says_what(filled):
    ws, ids = filled
    lib = Library(ws)
    lib.restore(ids["new_conv_entry"])  # a restored entry is history: it goes too
    purged = lib.empty_trash()
    assert purged.prompts == 2 and purged.versions == 3  # Secret plan had 2, Recent draft 1
    assert purged.conversations == 2  # the one of Secret plan and the platypus one
    assert purged.messages == 2 + 2 + 2  # zebra's, platypus', the walrus pair
    assert purged.runs == 3
    assert purged.entries == 5 and not purged.kept
    assert str(purged) == "2 prompts (3 versions), 2 conversations, 6 messages and 3 logged runs"
    assert lib.trash() == [] and ws.db["trash"].count == 0
    assert ws.db["documents"].count_where("trash_id is not null") == 0
    assert ws.db["messages"].count_where("trash_id is not null") == 0
    assert [d["name"] for d in lib.documents()] == ["Untitled prompt"]
    assert found(ws, "narwhal") == [ids["new_conv"]]  # restored before: kept
    assert found(ws, "otters") == [ids["live"]] and fts_rows(ws, "zebra") == 0
    assert str(lib.empty_trash()) == "nothing"
    # The index is consistent after the purge: SQLite's own check of an FTS5 index.
    ws.db.execute("insert into messages_fts(messages_fts) values ('integrity-check')")


def test_a_trashed_conversation_of_a_live_prompt_takes_its_deleted_messages_entry_along(ws):
    lib = Library(ws)
    cid = conversation(ws, ws.prompts.active_id(), "First", "Second", "Third", "Fourth")
    messages_entry = lib.delete_message(ws.conversations.path(cid)[2].id).trash_id
    conv_entry = lib.delete_conversation(cid).trash_id
    age(ws, conv_entry, TRASH_DAYS + 2)
    ws = reopen(ws)
    # The messages entry is recent, but what it held went with its conversation: restoring
    # it could only fail, so it leaves the trash with it.
    assert Library(ws).trash() == []
    assert ws.db["trash"].count_where("id in (?, ?)", [messages_entry, conv_entry]) == 0
    assert ws.db["messages"].count_where("conversation_id = ?", [cid]) == 0


def test_the_last_prompt_is_never_removed(ws):
    lib = Library(ws)
    first = ws.prompts.active_id()
    other = lib.create_document("Other")
    lib.delete_document(other)
    # Every prompt in the trash (a state the stores refuse, made here by hand): the most
    # recently deleted one stays there, so the workspace keeps a prompt to restore.
    with ws.db.atomic():
        entry = to_trash(ws.db, "document", first, "Untitled prompt", {})
        ws.db["documents"].update(first, {"trash_id": entry})
    purged = lib.empty_trash()
    assert purged.prompts == 1 and purged.kept == "Untitled prompt"
    assert [e["id"] for e in lib.trash()] == [entry]
    lib.restore(entry)
    assert [d["id"] for d in lib.documents()] == [first]


def test_retention_is_a_setting_and_zero_keeps_everything(ws, monkeypatch):
    lib = Library(ws)
    cid = conversation(ws, ws.prompts.active_id(), "five days old")
    entry = lib.delete_conversation(cid).trash_id
    age(ws, entry, 5)
    monkeypatch.setenv(TRASH_DAYS_ENV, "0")
    ws = reopen(ws)
    assert [e["id"] for e in Library(ws).trash()] == [entry]
    assert "kept until you empty the trash" in Library(ws).retention()
    monkeypatch.setenv(TRASH_DAYS_ENV, "7")
    ws = reopen(ws)
    assert [e["id"] for e in Library(ws).trash()] == [entry]
    assert Library(ws).retention() == "Deleted things are removed for good after 7 days."
    monkeypatch.setenv(TRASH_DAYS_ENV, "4")
    ws = reopen(ws)
    assert Library(ws).trash() == []


def test_a_bad_retention_setting_removes_nothing_and_says_why(ws, monkeypatch):
    lib = Library(ws)
    entry = lib.delete_conversation(conversation(ws, ws.prompts.active_id(), "old")).trash_id
    age(ws, entry, 400)
    monkeypatch.setenv(TRASH_DAYS_ENV, "forever")
    ws = reopen(ws)  # opens all the same
    assert [e["id"] for e in Library(ws).trash()] == [entry]
    assert "WORKBENCH_TRASH_DAYS" in Library(ws).retention() and "'forever'" in Library(ws).retention()
    monkeypatch.setenv(TRASH_DAYS_ENV, "99999999999")  # beyond the calendar: nothing is that old
    ws = reopen(ws)
    assert [e["id"] for e in Library(ws).trash()] == [entry]


def test_a_read_only_database_opens_and_emptying_it_says_why(tmp_path):
    path = tmp_path / "data" / "wb.db"
    path.parent.mkdir()
    ws = Workspace.open(path)
    entry = Library(ws).delete_conversation(conversation(ws, ws.prompts.active_id(), "old")).trash_id
    age(ws, entry, TRASH_DAYS + 10)
    ws.db.close()
    before = path.read_bytes()
    with _read_only(path):
        ws = Workspace.open(path)  # the purge is skipped; reading works
        assert ws.db.read_only and [e["id"] for e in Library(ws).trash()] == [entry]
        with pytest.raises(DatabaseReadOnlyError, match="emptying of the trash was not saved"):
            Library(ws).empty_trash()
        ws.db.close()
    assert path.read_bytes() == before


def test_a_database_another_program_is_writing_opens_without_waiting(tmp_path, monkeypatch):
    path = tmp_path / "wb.db"
    ws = Workspace.open(path)
    cid = conversation(ws, ws.prompts.active_id(), "old")
    entry = Library(ws).delete_conversation(cid).trash_id
    age(ws, entry, TRASH_DAYS + 10)
    ws.db.close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        monkeypatch.setenv("WORKBENCH_DB_WAIT", "30")
        start = time.monotonic()
        ws = Workspace.open(path)
        # The purge waits for nobody (the lock is held for all of the 30 s writes would wait).
        assert time.monotonic() - start < 15
        assert [e["id"] for e in Library(ws).trash()] == [entry]
        # The open's no-wait attempt put the waiting back as it was, for every other write.
        assert ws.db.busy_wait == 30
        assert ws.db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        ws.db.busy_wait = 0.2
        ws.db.execute("PRAGMA busy_timeout = 200")
        with pytest.raises(DatabaseBusyError, match="busy"):
            Library(ws).empty_trash()
    finally:
        other.execute("ROLLBACK")
        other.close()
    Library(ws).empty_trash()
    assert Library(ws).trash() == []
    with pytest.raises(WorkbenchError):
        get_row(ws.db, "conversations", cid, "conversation")


def test_emptied_words_are_not_left_in_the_database_file(ws):
    """What was removed for good cannot be read back from the file with a text editor: SQLite
    overwrote the freed pages, the full-text index was rewritten without it, the log emptied."""
    ws.db.execute("PRAGMA secure_delete = OFF")  # as most SQLite builds ship (Debian's: ON)
    lib = Library(ws)
    keep = ws.prompts.active_id()
    for i in range(40):  # an index with more in it than the secret
        conversation(ws, keep, f"an ordinary question number {i}", f"An ordinary answer {i}.")
    secret = "xylophonequux"
    cid = conversation(ws, keep, f"my password is {secret}", f"Noted: {secret}.")
    doc = lib.create_document(f"Plan {secret}")
    lib.delete_conversation(cid)
    lib.delete_document(doc)

    def on_disk() -> int:
        ws.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        files = [ws.db.path, ws.db.path.with_name(ws.db.path.name + "-wal")]
        return sum(f.read_bytes().count(secret.encode()) for f in files if f.exists())

    assert on_disk() >= 4  # the messages, the index, the prompt, the trash's titles
    lib.empty_trash()
    assert on_disk() == 0
    assert len(found(ws, "ordinary")) == 40 and found(ws, secret) == []
    assert ws.db.execute("PRAGMA secure_delete").fetchone()[0] == 0  # put back as it was
