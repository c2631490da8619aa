"""Importing a file into the workspace: a new prompt document, and the pinned lessons its export
marked brought back into the notebook (matched to lessons already there, never duplicated)."""

from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import ImportFormatError, WorkbenchError
from workbench.notebook.lessons import Lesson
from workbench.prompt.document import PromptDocument
from workbench.share.importers import read_import, read_import_file
from workbench.workspace import Workspace


@dataclass
class ImportResult:
    document_id: int
    document: PromptDocument
    warnings: list[str] = field(default_factory=list)  # converted or left out, for the user
    added_lessons: list[int] = field(default_factory=list)


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _ids(lessons: list[Lesson]) -> str:
    return ", ".join(f"#{lesson.id}" for lesson in lessons)


def import_into(ws: Workspace, text: str, fmt: str | None = None, filename: str = "") -> ImportResult:
    """TEXT imported as a new document (not made active); ImportFormatError, with nothing
    written, when the file cannot be read."""
    result = read_import(text, fmt, filename)
    doc, warnings = result.document, list(result.warnings)
    with ws.db.atomic("import"):  # the document and its lessons, or nothing
        active = ws.notebook.lessons()
        known, added = [], []
        for lesson_text in result.lessons:
            same = next((lesson for lesson in active if _same(lesson.text, lesson_text)), None)
            if same is None:
                r = ws.notebook.add(lesson_text, pinned=True, source="user",
                                    reason=f"imported from {filename or 'a file'}",
                                    demo=result.demos.get(lesson_text))
                same = r.duplicate_of
                if r.lesson is not None:
                    added.append(r.lesson)
                    active.append(r.lesson)
            if same is not None and same not in known:
                known.append(same)
        # A known lesson's demonstration came in as an example too: it is the lesson's.
        demos = {lesson.ref().demo for lesson in known if lesson.ref().demo}
        kept = [e for e in doc.examples if (e.user, e.assistant) not in demos]
        if len(kept) < len(doc.examples):
            warnings.append(f"{len(doc.examples) - len(kept)} example(s) were the demonstrations of "
                            "lessons in your notebook, so they stay with those lessons.")
            doc.examples = kept
        doc_id = ws.prompts.create(doc, note="imported")
    if known:
        unpinned = [lesson for lesson in known if not lesson.pinned]
        warnings.append(f"The file's lessons block matches lessons already in your notebook "
                        f"({_ids(known)}); they were not added again.")
        if unpinned:
            warnings.append(f"Lessons {_ids(unpinned)} are in your notebook but not pinned, so they "
                            "are not in the system prompt until you pin them.")
    if added:
        warnings.append(f"The file's lessons block was added to your notebook as pinned lessons "
                        f"{_ids(added)} (undo them in the History tab).")
    doc.notes = warnings
    return ImportResult(doc_id, doc, warnings, [lesson.id for lesson in added])


def import_file_into(ws: Workspace, path: str | Path, fmt: str | None = None) -> ImportResult:
    """A file imported as a new document; WorkbenchError naming the file when it is not."""
    name = Path(path).name
    text = read_import_file(path)
    try:
        return import_into(ws, text, fmt, name)
    except WorkbenchError as e:
        kind = ImportFormatError if isinstance(e, ImportFormatError) else WorkbenchError
        raise kind(f"{name} was not imported: {e}") from e
