"""The notebook of lessons on a real SQLite file: search, duplicates, changes, import/export."""

import json

import pytest

from workbench.db import open_db
from workbench.errors import ImportFormatError, WorkbenchError
from workbench.notebook.lessons import Notebook

LIST_RULE = "When the user asks for a list, number it."
UNITS_RULE = "When you give a distance, use kilometres, never miles."


@pytest.fixture
def nb(tmp_path):
    return Notebook(open_db(tmp_path / "wb.db"))


def add(nb, text, **kw):
    result = nb.add(text, **kw)
    assert result.lesson is not None, result
    return result.lesson


def test_add_and_search_with_stemming_ranking_and_highlights(nb):
    lists = add(nb, LIST_RULE, tags=["format"])
    units = add(nb, UNITS_RULE, tags=["units"])
    add(nb, "Lists of lists are fine when nested; lists should still be numbered.")
    hits = nb.search("lists")
    assert {h.lesson.id for h in hits} >= {lists.id}
    assert hits[0].lesson.text.startswith("Lists of lists")  # three mentions beat one
    assert "[list]" in hits[-1].snippet.lower() or "[lists]" in hits[-1].snippet.lower()
    assert [h.lesson.id for h in nb.search("distances")] == [units.id]  # porter stemming
    assert [h.lesson.id for h in nb.search("kilom")] == [units.id]  # prefix while typing
    assert [h.lesson.id for h in nb.search("number", tag="format")] == [lists.id]


@pytest.mark.parametrize("typed", ['"', '"unbalanced', "AND (", "list AND (", "*", "-list",
                                   "NEAR(list number)", "list:", "^", "ünïcödé ✓ 数字", "   ",
                                   "'; drop table lessons; --"])
def test_anything_typed_in_the_search_box_is_safe(nb, typed):
    add(nb, LIST_RULE)
    nb.search(typed)  # never raises
    assert len(nb.lessons()) == 1


def test_status_filter_and_retire(nb):
    lesson = add(nb, LIST_RULE)
    nb.retire(lesson.id, reason="outdated")
    assert nb.search("list") == []
    assert [h.lesson.status for h in nb.search("list", status=None)] == ["retired"]
    assert nb.lessons() == [] and len(nb.lessons(None)) == 1


def test_near_duplicate_is_reported_not_added(nb):
    original = add(nb, LIST_RULE)
    result = nb.add("When the user asks for a list, number it!")
    assert result.lesson is None and result.duplicate_of.id == original.id
    assert result.similarity >= 0.8
    assert nb.add("When the user asks for a list, use bullets and number it.",
                  force=True).lesson is not None
    assert nb.add(UNITS_RULE).lesson is not None  # different lessons are not duplicates


def test_merge_edit_history(nb):
    a = add(nb, LIST_RULE, tags=["format"])
    b = add(nb, "Number the items whenever you write a list.", tags=["lists"], pinned=True)
    merged = nb.merge(a.id, b.id, text="When you write a list, number its items.")
    assert merged.tags == ["format", "lists"] and merged.pinned
    assert nb.get(b.id).status == "retired"
    nb.edit(a.id, text="When you write a list, number its items from 1.")
    actions = [e["action"] for e in nb.history(a.id)]
    assert actions == ["add", "merge", "edit"]
    assert nb.history(a.id)[-1]["before"]["text"] == "When you write a list, number its items."
    with pytest.raises(WorkbenchError):
        nb.edit(a.id, text="  ")
    with pytest.raises(WorkbenchError):
        nb.merge(a.id, a.id)


def test_relevant_lessons_exclude_pinned_and_rank_by_relevance(nb):
    pinned = add(nb, LIST_RULE, pinned=True)
    units = add(nb, UNITS_RULE)
    add(nb, "When asked about cooking, give temperatures in Celsius.")
    got = nb.relevant("What distance is it from Paris to Rome, in kilometres?", k=2)
    assert got[0].id == units.id and pinned.id not in [l.id for l in got]


def test_json_round_trip(tmp_path, nb):
    add(nb, LIST_RULE, tags=["format"], pinned=True)
    retired = add(nb, UNITS_RULE)
    nb.retire(retired.id)
    exported = nb.export_json()
    other = Notebook(open_db(tmp_path / "other.db"))
    other.import_json(exported)
    strip = lambda ls: [(l.text, l.tags, l.pinned, l.status) for l in ls]
    assert strip(other.lessons(None)) == strip(nb.lessons(None))


def test_markdown_round_trip(tmp_path, nb):
    add(nb, LIST_RULE, tags=["format", "lists"], pinned=True)
    add(nb, "Say hello first.\nThen answer.", tags=["tone"])
    retired = add(nb, UNITS_RULE)
    nb.retire(retired.id)
    md = nb.export_markdown()
    assert "- [pinned] When the user asks for a list, number it. #format #lists" in md
    other = Notebook(open_db(tmp_path / "other.db"))
    other.import_markdown(md)
    strip = lambda ls: [(l.text, l.tags, l.pinned, l.status) for l in ls]
    assert strip(other.lessons(None)) == strip(nb.lessons(None))


@pytest.mark.parametrize("bad, where", [
    ("{not json", "line 1, column 2"),
    ('{"lessons": {"text": "x"}}', "Expected"),
    ('{"lessons": [{"text": "ok"}, {"txt": "typo"}]}', "lessons[1].text"),
    ('{"lessons": [{"text": "ok", "tags": "format"}]}', "lessons[0].tags"),
    ('{"lessons": [{"text": "ok", "status": "sleeping"}]}', "lessons[0].status"),
    ('{"lessons": [{"text": "ok", "helpful": -2}]}', "lessons[0].helpful"),
    ('{"lessons": [{"text": "ok", "pinned": "yes"}]}', "lessons[0].pinned"),
])
def test_malformed_json_import_writes_nothing_and_names_the_field(nb, bad, where):
    with pytest.raises(ImportFormatError) as e:
        nb.import_json(bad)
    assert where in str(e.value)
    assert nb.lessons(None) == []


def test_malformed_markdown_import_names_the_line(nb):
    text = "# Lessons\n\n- Good lesson #a\n* wrong bullet\n"
    with pytest.raises(ImportFormatError, match="Line 4"):
        nb.import_markdown(text)
    assert nb.lessons(None) == []


def test_import_is_all_or_nothing_inside_sqlite(nb, monkeypatch):
    good = json.dumps({"lessons": [{"text": "First lesson about tables."},
                                   {"text": "Second lesson about charts."}]})
    calls = {"n": 0}
    real = nb.get

    def fail_on_second(lesson_id):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk unplugged")
        return real(lesson_id)

    monkeypatch.setattr(nb, "get", fail_on_second)
    with pytest.raises(RuntimeError):
        nb.import_json(good)
    monkeypatch.undo()
    assert nb.lessons(None) == []


def test_retrieval_uses_telling_words_and_leaves_no_transaction_open(nb):
    units = add(nb, UNITS_RULE)
    for i in range(30):  # "answer" is in every lesson: it cannot tell them apart
        add(nb, f"When asked about topic {i}, answer with care number {i}.", force=True)
    # Rarest first; words in no lesson are dropped ("please", "units"). In a notebook
    # this small every present word is under the threshold, so "answer" stays.
    assert nb._telling_words("Please answer: what distance units?") == ["distance", "answer"]
    assert [l.id for l in nb.relevant("Please answer: what distance units?", k=1)] == [units.id]
    # Scratch work must not open a transaction on the user's database: later
    # writes would then never be committed.
    assert not nb.db.conn.in_transaction


def test_words_in_too_many_lessons_are_left_out_of_retrieval(nb, monkeypatch):
    monkeypatch.setattr("workbench.notebook.lessons.RARE_WORD_LESSONS", 5)
    units = add(nb, UNITS_RULE)
    for i in range(10):
        add(nb, f"When asked about topic {i}, answer with care number {i}.", force=True)
    assert nb._telling_words("Please answer: what distance units?") == ["distance"]
    assert nb._telling_words("answer") == ["answer"]  # nothing rarer: the rarest is kept
    assert [l.id for l in nb.relevant("answer the distance", k=3)] == [units.id]
