"""Ratings feed the notebook: a rated answer counts for (or against) the lessons it was about."""

from workbench.errors import WorkbenchError
from workbench.prompt.compose import question_of
from workbench.workspace import Workspace


def rated_question(ws: Workspace, run: dict) -> str:
    """The question a logged run answered, as the user asked it (retrieved rules taken out)."""
    messages = run.get("messages") or []
    newest = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    return question_of(newest, [lesson.text for lesson in _lessons(ws, run)])


def relevant_lessons(ws: Workspace, run: dict) -> list[int]:
    """The lessons in a run's prompt that its question is about: those retrieved for it (their
    rule travels in a user turn), and pinned ones sharing telling words with the question."""
    lessons = _lessons(ws, run)
    turns = [m["content"] for m in run.get("messages") or [] if m.get("role") == "user"]
    retrieved = {lesson.id for lesson in lessons if any(lesson.text in t for t in turns)}
    about = ws.notebook.relevant_among(rated_question(ws, run), [lesson.id for lesson in lessons])
    return sorted(retrieved | set(about))


def _lessons(ws: Workspace, run: dict) -> list:
    out = []
    for lesson_id in run.get("lesson_ids") or []:
        try:
            out.append(ws.notebook.get(lesson_id))
        except WorkbenchError:  # deleted since: nothing to count
            continue
    return out


def rate_run(ws: Workspace, run_id: int, rating: int, comment: str = "") -> list[int]:
    """Rate a run (+1, -1, 0) and move the tallies of the lessons it was about (see
    relevant_lessons): a bad answer about cooking says nothing of a lesson on distances.
    Returns the ids of the lessons counted.

    Re-rating moves the tallies again from the old rating to the new, so a run
    is only ever counted once.
    """
    run = ws.runs.get(run_id)
    old = run["rating"] or 0
    ws.runs.rate(run_id, rating, comment)
    if old == rating:
        return []
    lessons = relevant_lessons(ws, run)
    helpful = (rating == 1) - (old == 1)
    harmful = (rating == -1) - (old == -1)
    ws.notebook.tally(lessons, helpful=helpful, harmful=harmful, run_id=run_id,
                      reason=f"rating of run #{run_id}", source="user")
    return lessons
