"""Conversations: branching, editing, deleting and full-text search on a real SQLite file."""

import pytest

from workbench.chat.conversations import ConversationStore
from workbench.db import open_db
from workbench.errors import WorkbenchError


@pytest.fixture
def convs(tmp_path):
    return ConversationStore(open_db(tmp_path / "wb.db"))


def contents(convs, cid):
    return [m.content for m in convs.path(cid)]


def test_fork_keeps_both_branches_and_switching_works(convs):
    cid = convs.create()
    q = convs.append(cid, "user", "Name a colour.")
    a1 = convs.append(cid, "assistant", "Red.")
    convs.append(cid, "user", "Another?")
    convs.append(cid, "assistant", "Blue.")
    a2 = convs.fork(a1.id, "Green.")
    assert contents(convs, cid) == ["Name a colour.", "Green."]
    assert convs.siblings(a1.id) == [a1.id, a2.id]
    convs.switch_to(a1.id)
    assert contents(convs, cid) == ["Name a colour.", "Red.", "Another?", "Blue."]
    convs.switch_to(a2.id)
    assert contents(convs, cid) == ["Name a colour.", "Green."]
    assert convs.siblings(q.id) == [q.id]


def test_edit_and_delete(convs):
    cid = convs.create()
    q = convs.append(cid, "user", "Hello")
    a = convs.append(cid, "assistant", "Hi")
    convs.append(cid, "user", "Bye")
    convs.edit(q.id, "Hello there")
    convs.delete(a.id)  # and what follows it
    assert contents(convs, cid) == ["Hello there"]
    with pytest.raises(WorkbenchError, match="no message"):
        convs.edit(a.id, "x")
    with pytest.raises(WorkbenchError, match="role"):
        convs.append(cid, "robot", "beep")


def test_search_across_conversations_ranks_and_highlights(convs):
    one, two = convs.create("one"), convs.create("two")
    convs.append(one, "user", "How do I bake sourdough bread?")
    convs.append(two, "user", "Bread, bread, bread: which bread is best for toast?")
    convs.append(two, "assistant", "Rye is nice.")
    hits = convs.search("bread")
    assert [h["conversation_id"] for h in hits] == [two, one]  # more mentions rank higher
    assert "[bread]" in hits[0]["snippet"].lower()
    assert convs.search("baking")[0]["conversation_id"] == one  # porter stemming
    for nasty in ['"', "AND (", "*", "NEAR(", "bread OR", "ünïcödé ✓", ""]:
        assert isinstance(convs.search(nasty), list)  # never raises
