"""Export -> import -> export through a real workspace, for every importable format: the prompt
the model gets comes back the same, pinned lessons come back as lessons (never twice), and only
what the README's round-trip table lists is lost."""

import pytest

from tests.share.test_exporters import ROUND_TRIP
from workbench.prompt.document import Example, PromptDocument, Section
from workbench.share.builder import build_export_input
from workbench.share.exporters import export
from workbench.share.importers import IMPORTERS
from workbench.share.intake import import_into
from workbench.workspace import Workspace

LESSON = "When asked for a capital, begin the answer with ANSWER:."
DEMO = ("What is the capital of Peru?", "ANSWER: Lima.")


def prepare(ws: Workspace) -> PromptDocument:
    doc = PromptDocument(name="Geography tutor", sections=[
        Section("role", "You are a geography tutor for {{city}} schools."),
        Section("current information", "You are running as {{model}}. Prices in $USD, $2 each."),
        Section("tools", "web search", enabled=False)],
        examples=[Example("How far is Rome from Milan?", "About 480 km.")],
        variables={"city": "Lyon"},
        params={"temperature": 0.3, "top_p": 0.9, "top_k": 20, "min_p": 0.1,
                "repeat_penalty": 1.05, "max_tokens": 200, "seed": 4, "stop": ["\nUser:", '"end"']})
    doc_id = ws.prompts.create(doc)
    ws.prompts.set_active(doc_id)
    ws.notebook.add(LESSON, pinned=True, demo=DEMO)
    ws.notebook.add("Give every distance in kilometres.", pinned=True)
    ws.notebook.add("Tides follow the moon; mention it for questions about tides.")  # retrieved only
    return ws.prompts.load_draft(doc_id)


def again(ws: Workspace, fmt: str, doc: PromptDocument):
    x = build_export_input(ws, doc)
    out = export(fmt, x)
    result = import_into(ws, out.text, fmt, f"prompt.{fmt}")
    return x, out, result, build_export_input(ws, ws.prompts.load_draft(result.document_id))


def test_every_importable_format_is_in_the_table():
    assert set(IMPORTERS) == set(ROUND_TRIP)


@pytest.mark.parametrize("fmt", sorted(ROUND_TRIP))
def test_a_round_trip_in_the_same_workspace_duplicates_nothing(ws, fmt):
    doc = prepare(ws)
    x, out, result, y = again(ws, fmt, doc)
    assert len(ws.notebook.lessons()) == 3 and result.added_lessons == []  # no lesson added
    assert any("already in your notebook" in w for w in result.warnings)
    assert y.system == x.system and y.system.count(LESSON) == 1
    assert y.messages == x.messages  # the demonstration is not doubled as an example
    back = ws.prompts.load_draft(result.document_id)
    assert "lessons" not in [s.name for s in back.sections]
    assert all(LESSON not in s.text for s in back.sections)
    for key in ROUND_TRIP[fmt]:
        assert y.params.to_dict()[key] == x.params.to_dict()[key], key
    # and a second round trip gives the same export again
    _, out2, _, z = again(ws, fmt, back)
    assert z.system == x.system and z.messages == x.messages
    if fmt in ("markdown", "lmstudio"):  # the formats that keep the document's name
        assert out2.text == out.text


@pytest.mark.parametrize("fmt", sorted(ROUND_TRIP))
def test_into_a_fresh_workspace_the_lessons_come_back_as_pinned_lessons(ws, tmp_path, fmt):
    x = build_export_input(ws, prepare(ws))
    other = Workspace.open(tmp_path / "other.db")
    result = import_into(other, export(fmt, x).text, fmt)
    assert [lesson.text for lesson in other.notebook.pinned()] == x.lessons
    assert any("added to your notebook" in w for w in result.warnings)
    y = build_export_input(other, other.prompts.load_draft(result.document_id))
    assert y.system == x.system and y.messages == x.messages


def test_markdown_keeps_the_whole_document(ws):
    doc = prepare(ws)
    doc.lesson_budget, doc.retrieval_k = 300, 5
    x, out, result, y = again(ws, "markdown", doc)
    back = ws.prompts.load_draft(result.document_id)
    assert back.sections == doc.sections and back.variables == doc.variables
    assert back.examples == doc.examples and back.params == doc.params
    assert (back.lesson_budget, back.retrieval_k, back.name) == (300, 5, doc.name)
    assert result.warnings == ["The file's lessons block matches lessons already in your notebook "
                               "(#1, #2); they were not added again."]


def test_what_a_format_cannot_hold_is_in_the_export_notes(ws):
    x = build_export_input(ws, prepare(ws))
    for fmt in ("openai", "anthropic", "ollama", "llm", "lmstudio", "text"):
        notes = " ".join(export(fmt, x).warnings)
        assert "{{model}}" in notes, fmt  # no model loaded: written as it is, and said
        assert "tools" in notes and "city" in notes, fmt  # disabled section, variables
    assert not [w for w in export("markdown", x).warnings if "Disabled" in w]
