"""`workbench prompt trash --empty` and the trash's retention from the command line: what was
deleted goes for good, what the user sees says so, and the commands themselves purge old
entries as they open the workspace."""

import json

from tests.chat.test_trash_retention import age, conversation
from tests.conftest import call_cli as workbench
from tests.conftest import run_cli
from tests.test_db_concurrency import _read_only
from workbench.chat.library import Library
from workbench.db import default_db_path
from workbench.prompt.store import TRASH_DAYS
from workbench.workspace import Workspace


def listed() -> list[str]:
    """The prompts `workbench prompt list` shows, by name."""
    return [d["name"] for d in json.loads(workbench("prompt", "list", "--json").stdout)]


def trashed() -> list[dict]:
    return json.loads(workbench("prompt", "trash", "--json").stdout)


def trash_a_prompt_and_a_conversation() -> dict:
    """In the trash (as the window puts things there): the prompt "Private" with a
    conversation, and a conversation of the prompt that stays."""
    workbench("prompt", "new", "Keep")
    private = int(workbench("prompt", "new", "Private").stdout)
    ws = Workspace.open()
    lib = Library(ws)
    conversation(ws, private, "my secret recipe", "Kept secret.")
    prompt_entry = lib.delete_document(private)[0].trash_id
    keep = ws.prompts.active_id()
    conv_entry = lib.delete_conversation(conversation(ws, keep, "an old question", "Yes.")).trash_id
    live = conversation(ws, keep, "a question that stays", "It stays.")
    ws.db.close()
    return {"prompt": prompt_entry, "conversation": conv_entry, "live": live}


def test_empty_removes_everything_and_prints_what_it_removed():
    ids = trash_a_prompt_and_a_conversation()
    assert [e["id"] for e in trashed()] == [ids["conversation"], ids["prompt"]]
    listing = workbench("prompt", "trash")
    assert "Private" in listing.stdout and "removed for good after 30 days" in listing.stderr
    proc = workbench("prompt", "trash", "--empty")
    assert proc.stderr == "Removed for good: 1 prompt (1 version), 2 conversations and 4 messages.\n"
    assert trashed() == [] and "The trash is empty." in workbench("prompt", "trash").stderr
    assert "Private" not in listed() and "Keep" in listed()
    ws = Workspace.open()
    assert [c.id for c in Library(ws).conversations(None, "secret")] == []
    assert [c.id for c in Library(ws).conversations(None, "stays")] == [ids["live"]]
    proc = workbench("prompt", "undelete", str(ids["prompt"]), check=False)
    assert proc.returncode == 1 and "removed for good" in proc.stderr
    again = workbench("prompt", "trash", "--empty", "--json")
    assert json.loads(again.stdout)["entries"] == 0 and "already empty" in again.stderr


def test_every_command_removes_what_is_past_the_retention():
    ids = trash_a_prompt_and_a_conversation()
    ws = Workspace.open()
    age(ws, ids["prompt"], TRASH_DAYS + 1)
    ws.db.close()
    # A real process, as a user runs any command: the old prompt leaves, the recent
    # conversation is still there to restore.
    run_cli("lessons", "list")
    assert [e["id"] for e in trashed()] == [ids["conversation"]]
    workbench("prompt", "undelete", str(ids["conversation"]))
    assert trashed() == []


def test_emptying_a_read_only_database_says_so_and_changes_nothing():
    ids = trash_a_prompt_and_a_conversation()
    path = default_db_path()
    before = path.read_bytes()
    with _read_only(path):
        proc = run_cli("prompt", "trash", "--empty", check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert "read-only" in proc.stderr and "nothing was changed" in proc.stderr
        assert len(run_cli("prompt", "trash", "--json").stdout) > 2  # listing still works
    assert path.read_bytes() == before
    assert {e["id"] for e in trashed()} == {ids["prompt"], ids["conversation"]}
