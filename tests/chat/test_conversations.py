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


def test_deleting_the_branch_on_screen_shows_another_branch_from_there(convs):
    cid = convs.create()
    convs.append(cid, "user", "Name a colour.")
    a1 = convs.append(cid, "assistant", "Red.")
    convs.append(cid, "user", "Another?")
    convs.append(cid, "assistant", "Blue.")
    a2 = convs.fork(a1.id, "Green.")
    a3 = convs.fork(a1.id, "Yellow.")
    trash_id = convs.delete(a3.id)  # the answer on screen: the newest other answer is shown
    assert contents(convs, cid) == ["Name a colour.", "Green."]
    convs.delete(a2.id)
    assert contents(convs, cid) == ["Name a colour.", "Red.", "Another?", "Blue."]  # down to its end
    convs.delete(a1.id)  # no other answer: the question is left, as before
    assert contents(convs, cid) == ["Name a colour."]
    convs.undelete(trash_id)  # undo shows what was on screen then
    assert contents(convs, cid) == ["Name a colour.", "Yellow."]


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


def test_deleted_messages_go_to_the_trash_and_come_back(convs):
    cid = convs.create()
    q = convs.append(cid, "user", "Hello")
    a = convs.append(cid, "assistant", "Hi")
    convs.append(cid, "user", "Tell me about sourdough")
    trash_id = convs.delete(a.id)
    assert contents(convs, cid) == ["Hello"]
    assert convs.search("sourdough") == []  # deleted words are not found
    assert convs.listing(query="sourdough") == []
    assert [s["all_messages"] for s in convs.summaries()] == [1]
    late = convs.append(cid, "assistant", "Hey")  # written after the deletion
    assert convs.siblings(late.id) == [late.id]
    assert convs.undelete(trash_id) == cid
    assert contents(convs, cid) == ["Hello", "Hi", "Tell me about sourdough"]  # as on screen
    assert convs.siblings(a.id) == [a.id, late.id]  # what came since is a branch, kept
    assert convs.search("sourdough")[0]["conversation_id"] == cid
    with pytest.raises(WorkbenchError, match="already restored"):
        convs.undelete(trash_id)
    assert q.id in [m.id for m in convs.path(cid)]


def test_a_deleted_conversation_leaves_the_lists_and_comes_back(convs):
    keep, gone = convs.create(document_id=1), convs.create(document_id=1)
    convs.append(keep, "user", "Plan a trip to Lisbon")
    convs.append(gone, "user", "Plan a trip to Porto")
    trash_id = convs.delete_conversation(gone)
    assert [c["id"] for c in convs.conversations()] == [keep]
    assert [c["id"] for c in convs.listing(1, "trip")] == [keep]
    assert convs.search("Porto") == []
    convs.undelete(trash_id)
    assert {c["id"] for c in convs.listing(1)} == {keep, gone}
    assert contents(convs, gone) == ["Plan a trip to Porto"]


def test_listing_by_document_and_by_words_in_any_message(convs):
    mine, theirs = convs.create(document_id=1), convs.create(document_id=2)
    convs.append(mine, "user", "What is a haiku?")
    convs.append(mine, "assistant", "A short poem of seventeen syllables.")
    convs.append(theirs, "user", "Write a limerick about syllables")
    assert [c["id"] for c in convs.listing(1)] == [mine]
    row = convs.listing(1, "seventeen")[0]  # found by a word in an answer
    assert row["id"] == mine and row["first"] == "What is a haiku?" and "[seventeen]" in row["snippet"]
    assert {c["id"] for c in convs.listing(None, "syllables")} == {mine, theirs}
    assert convs.listing(2, "haiku") == []
    assert [c["id"] for c in convs.listing(None, limit=1)] == [theirs]  # newest first
    for nasty in ['"', "AND (", "*", "NEAR("]:
        assert isinstance(convs.listing(1, nasty), list)
