"""Several writers on one database file: nothing lost, no tracebacks; a long lock and a
read-only file give clear messages instead."""

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlite_utils

from tests.conftest import REPO, run_cli
from workbench.chat.conversations import ConversationStore
from workbench.chat.runs import RunLog, RunRecord
from workbench.db import DatabaseBusyError, DatabaseError, DatabaseReadOnlyError, migrations, open_db
from workbench.notebook.lessons import Notebook
from workbench.notebook.proposals import ProposalStore
from workbench.notebook.reflection import Proposal
from workbench.prompt.document import PromptDocument
from workbench.prompt.store import PromptStore
from workbench.workspace import Workspace

WRITES = 200

# One writing process: sets up its conversation and document, says "ready", waits for the
# go line on stdin (so the three really overlap), then writes WRITES times, cycling through
# the four kinds of store writes, and prints what it wrote. It catches nothing: any error
# is a traceback on stderr and a failed exit.
WORKER = r"""
import json, sys
from workbench.chat.runs import RunRecord
from workbench.workspace import Workspace

path, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
ws = Workspace.open(path)
conv = ws.conversations.create(f"{name} talk")
doc_id = ws.prompts.create()
doc = ws.prompts.load_draft(doc_id)
print("ready", flush=True)
sys.stdin.readline()
wrote = {"conversation": conv, "document": doc_id, "lessons": [], "messages": [], "runs": [],
         "drafts": []}
for i in range(n):
    kind = i % 4
    if kind == 0:
        text = f"{name} lesson {i}: when asked about item {name}-{i}, answer briefly."
        ws.notebook.add(text, tags=[name], force=True)
        wrote["lessons"].append(text)
    elif kind == 1:
        text = f"{name} message {i}"
        ws.conversations.append(conv, "user", text)
        wrote["messages"].append(text)
    elif kind == 2:
        out = f"{name} run {i}"
        ws.runs.log(RunRecord(model_file="stand-in.gguf", model_name="stand-in", mode="chat",
                              params={}, rendered_prompt="", messages=[], output=out, stats={},
                              conversation_id=conv, model_sha256=""))
        wrote["runs"].append(out)
    else:
        doc.name = f"{name} draft {i}"
        ws.prompts.save_draft(doc_id, doc)
        wrote["drafts"].append(doc.name)
print(json.dumps(wrote), flush=True)
"""


def _start_writers(path: Path, names: list[str]) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(path), name, str(WRITES)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=REPO) for name in names]
    for p in procs:  # every writer is set up before any starts writing
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    return procs


def test_three_writers_lose_nothing_and_print_no_tracebacks(tmp_path):
    path = tmp_path / "shared.db"
    open_db(path).close()
    names = ["ann", "bob", "cat"]
    procs = _start_writers(path, names)
    results = {}
    for name, p in zip(names, procs):
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0 and err == "", f"{name} failed:\n{err}"
        results[name] = json.loads(out.strip().splitlines()[-1])

    ws = Workspace.open(path)
    attempted = stored = 0
    for name, wrote in results.items():
        lessons = [l.text for l in ws.notebook.lessons(tag=name)]
        assert lessons == wrote["lessons"]
        messages = [m.content for m in ws.conversations.path(wrote["conversation"])]
        assert messages == wrote["messages"]  # one unbroken branch, in order
        runs = [r["output"] for r in ws.runs.recent(limit=10 * WRITES)
                if r["conversation_id"] == wrote["conversation"]]
        assert sorted(runs) == sorted(wrote["runs"])
        assert ws.prompts.load_draft(wrote["document"]).name == wrote["drafts"][-1]
        attempted += sum(len(wrote[k]) for k in ("lessons", "messages", "runs", "drafts"))
        stored += len(lessons) + len(messages) + len(runs) + len(wrote["drafts"])
    assert stored == attempted == 3 * WRITES
    # Every lesson's add is in its history: the event was written with it.
    assert ws.db["lesson_events"].count == ws.db["lessons"].count == 3 * WRITES // 4


@contextlib.contextmanager
def _lock_held(path: Path):
    """Another program holding the write lock until the block ends."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("begin immediate")
    try:
        yield holder
    finally:
        holder.execute("rollback")
        holder.close()


def test_a_lock_held_past_the_bound_gives_a_busy_error_and_a_retry_succeeds(tmp_path):
    path = tmp_path / "busy.db"
    db = open_db(path, busy_wait=0.3)
    ws = _workspace(db)
    doc_id = ws.prompts.create()
    doc = ws.prompts.load_draft(doc_id)
    doc.name = "unsaved work"
    with _lock_held(path):
        with pytest.raises(DatabaseBusyError) as e:
            ws.notebook.add("Answer in French when asked in French.")
        message = str(e.value)
        assert "is busy" in message and "your lesson was not saved yet" in message
        assert str(path) in message
        with pytest.raises(DatabaseBusyError, match="your draft was not saved yet"):
            ws.prompts.save_draft(doc_id, doc)
        # The connection is left usable: reads work while the other writer holds the lock.
        assert ws.notebook.lessons() == [] and not db.conn.in_transaction
    # The caller kept what it had and tries again: now it is saved, once.
    added = ws.notebook.add("Answer in French when asked in French.").lesson
    ws.prompts.save_draft(doc_id, doc)
    assert [l.id for l in ws.notebook.lessons()] == [added.id]
    assert ws.prompts.load_draft(doc_id).name == "unsaved work"
    assert len(ws.notebook.history(added.id)) == 1


def test_a_brief_lock_is_waited_for_not_reported(tmp_path):
    path = tmp_path / "brief.db"
    db = open_db(path)
    nb = Notebook(db)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("begin immediate")
    # Another connection holds the lock; reading first (as sqlite-utils does) used to make
    # the upgrade to a write fail at once. Release it from a second thread while we wait.
    t = threading.Timer(0.3, lambda: holder.execute("commit"))
    t.start()
    try:
        assert nb.add("Prefer short answers to yes/no questions.").lesson is not None
    finally:
        t.join()
        holder.close()


def test_the_cli_reports_a_busy_database_with_exit_code_1(tmp_path, workbench_home, monkeypatch):
    run_cli("lessons", "add", "Number the steps of a procedure.")
    monkeypatch.setenv("WORKBENCH_DB_WAIT", "0.3")
    with _lock_held(workbench_home / "workbench.db"):
        proc = run_cli("lessons", "add", "Give distances in kilometres.", check=False)
        assert proc.returncode == 1
        assert "is busy" in proc.stderr and "Traceback" not in proc.stderr
        assert run_cli("lessons", "list").stdout.count("\n") == 1  # reads still work
    run_cli("lessons", "add", "Give distances in kilometres.")
    assert run_cli("lessons", "list").stdout.count("\n") == 2


def _workspace(db) -> Workspace:
    """The stores over an already opened database (opened with options Workspace.open lacks)."""
    return Workspace(PromptStore(db), ConversationStore(db), RunLog(db), Notebook(db))


# -- read-only databases ----------------------------------------------------------------


def _chattr(flag: str, *paths: Path) -> None:
    subprocess.run(["chattr", flag, *map(str, paths)], check=True)


@contextlib.contextmanager
def _read_only(path: Path):
    """Make the database file and its folder read-only: permissions for everyone, and (as
    root, whom permissions do not stop) the immutable attribute as well. Undone after."""
    folder = path.parent
    root = os.geteuid() == 0
    os.chmod(path, 0o444)
    os.chmod(folder, 0o555)
    try:
        if root:
            _chattr("+i", path, folder)
        yield
    finally:
        if root:
            _chattr("-i", path, folder)
        os.chmod(folder, 0o755)
        os.chmod(path, 0o644)


def _filled(path: Path) -> dict:
    ws = Workspace.open(path)
    lesson = ws.notebook.add("When asked for a list, number it.").lesson
    conv = ws.conversations.create("kept")
    ws.conversations.append(conv, "user", "hello")
    doc_id = ws.prompts.active_id()
    run = ws.runs.log(RunRecord(model_file="stand-in.gguf", model_name="stand-in", mode="chat",
                                params={}, rendered_prompt="", messages=[], output="hi",
                                stats={}, model_sha256=""))
    ws.db.close()  # a clean close: SQLite folds its -wal file back and removes it
    return {"lesson": lesson.id, "conversation": conv, "document": doc_id, "run": run}


def _every_write_refused(ws: Workspace, ids: dict) -> None:
    doc = ws.prompts.load_draft(ids["document"])
    proposals = ProposalStore(ws.db, ws.notebook)
    writes = [
        lambda: ws.notebook.add("Give temperatures in Celsius."),
        lambda: ws.notebook.retire(ids["lesson"]),
        lambda: ws.notebook.import_json('{"lessons": [{"text": "Use metric units."}]}'),
        lambda: ws.conversations.append(ids["conversation"], "user", "more"),
        lambda: ws.conversations.create(),
        lambda: ws.runs.rate(ids["run"], 1),
        lambda: ws.runs.log(RunRecord(model_file="x.gguf", model_name="x", mode="chat",
                                      params={}, rendered_prompt="", messages=[], output="",
                                      stats={}, model_sha256="")),
        lambda: ws.prompts.save_draft(ids["document"], doc),
        lambda: ws.prompts.save_version(ids["document"], PromptDocument.default("new")),
        lambda: proposals.add(Proposal("When asked for a date, use ISO format.", "", "new"),
                              "rating"),
    ]
    for write in writes:
        with pytest.raises(DatabaseReadOnlyError) as e:
            write()
        assert "read-only" in str(e.value) and "nothing was changed" in str(e.value)


def _reads_work(ws: Workspace, ids: dict) -> None:
    assert [l.id for l in ws.notebook.lessons()] == [ids["lesson"]]
    assert ws.notebook.search("list")[0].lesson.id == ids["lesson"]
    assert [l.id for l in ws.notebook.relevant("make me a list of fruit", k=2)] == [ids["lesson"]]
    assert [m.content for m in ws.conversations.path(ids["conversation"])] == ["hello"]
    assert ws.runs.get(ids["run"])["output"] == "hi"
    assert ws.prompts.current_id() == ids["document"]


def test_a_read_only_database_opens_read_only_reads_work_and_writes_say_so(tmp_path):
    path = tmp_path / "data" / "wb.db"
    path.parent.mkdir()
    ids = _filled(path)
    before = path.read_bytes()
    with _read_only(path):
        db = open_db(path)
        assert db.read_only and "read-only" in db.notice and str(path) in db.notice
        ws = Workspace.open(path)
        _reads_work(ws, ids)
        _every_write_refused(ws, ids)
        ws.db.close()
        db.close()
    assert path.read_bytes() == before


def test_read_only_on_request_behaves_the_same(tmp_path):
    path = tmp_path / "wb.db"
    ids = _filled(path)
    db = open_db(path, read_only=True)
    assert db.read_only and "read-only" in db.notice
    ws = _workspace(db)
    _reads_work(ws, ids)
    _every_write_refused(ws, ids)
    # The same file opened normally is still writable: nothing was stuck.
    assert not open_db(path).read_only


def test_the_cli_lists_a_read_only_notebook_and_refuses_to_add(tmp_path, workbench_home):
    run_cli("lessons", "add", "When asked for a list, number it.")
    path = workbench_home / "workbench.db"
    with _read_only(path):
        listed = run_cli("lessons", "list")
        assert "When asked for a list, number it." in listed.stdout
        proc = run_cli("lessons", "add", "Give temperatures in Celsius.", check=False)
        assert proc.returncode == 1, proc.stderr
        assert "read-only" in proc.stderr and "nothing was changed" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert run_cli("lessons", "list").stdout.count("\n") == 1


def test_a_read_only_database_that_needs_an_upgrade_is_refused_clearly(tmp_path):
    path = tmp_path / "old" / "wb.db"
    path.parent.mkdir()
    old = sqlite_utils.Database(path)
    migrations.apply(old, stop_before="m006_create_proposals")
    old.close()
    with _read_only(path):
        with pytest.raises(DatabaseError, match="read-only") as e:
            open_db(path)
        assert "upgrad" in str(e.value)


def test_a_data_folder_that_cannot_be_created_is_explained(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(DatabaseError, match="data folder") as e:
        open_db(blocker / "home" / "workbench.db")
    assert str(blocker / "home") in str(e.value)


def test_the_cli_explains_a_data_home_it_cannot_create(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("WORKBENCH_HOME", str(blocker / "home"))
    proc = run_cli("lessons", "list", check=False)
    assert proc.returncode == 1 and "data folder" in proc.stderr
    assert "Traceback" not in proc.stderr
