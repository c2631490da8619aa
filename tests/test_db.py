"""The database file: migrations from every earlier schema, newer files refused, locks."""

import sqlite3
import threading

import pytest
import sqlite_utils

from workbench.db import DatabaseError, data_home, migrations, open_db

ALL = [m.name for m in migrations._migrations]


def test_data_home_follows_workbench_home(workbench_home):
    assert data_home() == workbench_home


def test_blank_database_gets_every_table(tmp_path):
    db = open_db(tmp_path / "new.db")
    assert {"documents", "versions", "settings", "conversations", "messages", "runs",
            "lessons", "lesson_events", "lessons_fts", "messages_fts"} <= set(db.table_names())
    assert [m.name for m in migrations.applied(db)] == ALL
    assert db.execute("pragma journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("stop_before", ALL[1:])
def test_every_earlier_schema_migrates_and_keeps_its_data(tmp_path, stop_before):
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    migrations.apply(old, stop_before=stop_before)
    old["documents"].insert({"name": "kept", "draft": "{}", "created": "x", "updated": "x"})
    old.close()
    db = open_db(path)
    assert [m.name for m in migrations.applied(db)] == ALL
    assert db["documents"].get(1)["name"] == "kept"


def test_database_from_a_newer_version_is_refused_untouched(tmp_path):
    path = tmp_path / "future.db"
    open_db(path).close()
    db = sqlite_utils.Database(path)
    db["_sqlite_migrations"].insert({"migration_set": "workbench", "name": "m999_from_the_future",
                                     "applied_at": "2030"})
    db.close()
    before = path.read_bytes()
    with pytest.raises(DatabaseError, match="newer version"):
        open_db(path)
    assert path.read_bytes() == before


def test_not_a_database(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("shopping list: milk, bread, eggs\n" * 200)
    with pytest.raises(DatabaseError, match="not a Prompt Workbench database"):
        open_db(path)
    assert path.read_text().startswith("shopping list")


def test_two_instances_share_the_file(tmp_path):
    path = tmp_path / "shared.db"
    a, b = open_db(path), open_db(path)
    a["settings"].insert({"key": "from_a", "value": "1"})
    assert b["settings"].get("from_a")["value"] == "1"
    # A writer holding the lock briefly makes the other wait, not fail.
    conn = sqlite3.connect(path, check_same_thread=False)
    conn.execute("begin immediate")
    timer = threading.Timer(0.5, conn.commit)
    timer.start()
    b["settings"].insert({"key": "from_b", "value": "2"})
    timer.join()
    assert a["settings"].get("from_b")["value"] == "2"


def test_a_database_locked_for_long_gives_a_clear_message(tmp_path):
    path = tmp_path / "locked.db"
    open_db(path).close()
    holder = sqlite3.connect(path)
    holder.execute("pragma locking_mode = exclusive")
    holder.execute("begin exclusive")
    with pytest.raises(DatabaseError, match="locked by another program"):
        open_db(path)
    holder.rollback()
