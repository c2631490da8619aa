"""Prompt documents: drafts, immutable versions, diff and restore, on a real SQLite file."""

import pytest

from workbench.db import open_db
from workbench.errors import WorkbenchError
from workbench.prompt.document import Example, PromptDocument
from workbench.prompt.store import PromptStore
from workbench.workspace import render_document


@pytest.fixture
def store(tmp_path):
    return PromptStore(open_db(tmp_path / "wb.db"))


def test_default_document_has_the_production_sections(store):
    doc = store.load_draft(store.active_id())
    assert [s.name for s in doc.sections] == ["role", "current information", "guidelines",
                                              "tools", "safety", "output format"]
    assert store.active_id() == store.active_id() and len(store.documents()) == 1  # made once


def test_versions_are_immutable_and_not_duplicated(store):
    doc_id = store.active_id()
    doc = store.load_draft(doc_id)
    doc.set_section("role", "You are a pirate.")
    v2 = store.save_version(doc_id, doc)
    again = store.save_version(doc_id, doc)
    assert again.number == v2.number == 2
    doc.set_section("role", "You are a poet.")
    store.save_draft(doc_id, doc)  # autosave makes no version
    assert len(store.versions(doc_id)) == 2
    assert store.version(doc_id, 2).document.section("role").text == "You are a pirate."
    assert store.load_draft(doc_id).section("role").text == "You are a poet."


def test_diff_and_restore(store):
    doc_id = store.active_id()
    doc = store.load_draft(doc_id)
    doc.set_section("role", "You are a helpful, precise assistant.")
    store.save_version(doc_id, doc)
    doc.set_section("role", "You are a pirate.")
    doc.examples.append(Example("Hi", "Arr!"))
    store.save_version(doc_id, doc)
    diff = store.diff(doc_id, 2, 3, render_document)
    assert "-You are a helpful, precise assistant." in diff
    assert "+You are a pirate." in diff and "+Assistant: Arr!" in diff
    restored = store.restore(doc_id, 2)
    assert restored.number == 4 and restored.note == "restored from v2"
    assert store.load_draft(doc_id).section("role").text == "You are a helpful, precise assistant."
    assert len(store.versions(doc_id)) == 4  # history kept


def test_unknown_version_and_document(store):
    doc_id = store.active_id()
    with pytest.raises(WorkbenchError, match="no version 9"):
        store.version(doc_id, 9)
    with pytest.raises(WorkbenchError, match="no prompt document 42"):
        store.load_draft(42)


def test_document_survives_reopening(tmp_path):
    path = tmp_path / "wb.db"
    store = PromptStore(open_db(path))
    doc_id = store.create(PromptDocument.default("Support bot"))
    doc = store.load_draft(doc_id)
    doc.variables["product"] = "Acme"
    store.save_draft(doc_id, doc)
    store.db.close()
    reopened = PromptStore(open_db(path))
    assert reopened.load_draft(doc_id).variables == {"product": "Acme"}


def test_trash_and_undelete_bring_a_document_back_as_it_was(store):
    first = store.active_id()
    second = store.create(PromptDocument.default("Tutor"))
    store.set_active(second)
    doc = store.load_draft(second)
    doc.set_section("role", "You teach.")
    store.save_version(second, doc, note="teaching")
    trash_id, active = store.trash(second)
    assert active == first and store.current_id() == first  # the open one moved on
    assert [d["id"] for d in store.documents()] == [first]
    assert [d["id"] for d in store.documents(trashed=True)] == [second]
    with pytest.raises(WorkbenchError, match="in the trash"):
        store.set_active(second)
    with pytest.raises(WorkbenchError, match="only prompt document"):
        store.trash(first)  # one must stay
    assert store.undelete(trash_id) == second
    assert store.current_id() == second  # it was the open one: it is again
    assert [v.note for v in store.versions(second)] == ["created", "teaching"]
    assert store.load_draft(second).section("role").text == "You teach."
    with pytest.raises(WorkbenchError, match="already restored"):
        store.undelete(trash_id)


def test_a_document_deleted_for_good_cannot_be_restored(store):
    first = store.active_id()
    other = store.create()
    trash_id, _ = store.trash(other)
    assert store.delete(other) == first  # for good, from the trash
    with pytest.raises(WorkbenchError, match="deleted for good"):
        store.undelete(trash_id)
