"""Ratings feed the notebook: the lessons in a rated run's prompt get a helpful or harmful tally."""

from workbench.workspace import Workspace


def rate_run(ws: Workspace, run_id: int, rating: int, comment: str = "") -> None:
    """Rate a run (+1, -1, 0) and move the tallies of the lessons in its prompt.

    Re-rating moves the tallies again from the old rating to the new, so a run
    is only ever counted once.
    """
    run = ws.runs.get(run_id)
    old = run["rating"] or 0
    ws.runs.rate(run_id, rating, comment)
    if old == rating:
        return
    lessons = run["lesson_ids"] or []
    helpful = (rating == 1) - (old == 1)
    harmful = (rating == -1) - (old == -1)
    ws.notebook.tally(lessons, helpful=helpful, harmful=harmful, run_id=run_id)
