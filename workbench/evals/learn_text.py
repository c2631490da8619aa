"""Learning's results as the Learn page words them: test questions before and after, each lesson tried."""

import html
from dataclasses import dataclass

from workbench.evals.learn_report import Candidate, LearnReport
from workbench.evals.runner import EvalResult

PLACEMENT_WORDS = {"pinned": "always in the prompt", "retrieved": "only with questions it matches"}
SHORT_PLACEMENT = {"pinned": "in every prompt", "retrieved": "when relevant"}
AUTHOR_WORDS = {"model": "phrased by the teacher model", "tasks": "built from the test set's checks "
                "and ideal answers", "user": "written by you"}
INTRO = ("Learning tries lessons on this set's train questions and keeps those that make more of "
         "them pass without breaking one that passed. The test questions, never learned from, show "
         "whether the lessons carry over. Each kept lesson waits here for you to accept or reject.")


@dataclass
class QuestionRow:
    """One test question across the runs: passed (or None: not answered) and the answers."""

    query: str
    passed: list[bool | None]
    answers: list[str]

    @property
    def change(self) -> str:
        """fixed (failed before, passes at the end), broken (the reverse), or empty: no change."""
        first, last = self.passed[0], self.passed[-1]
        if first is None or last is None or first == last or len(self.passed) < 2:
            return ""
        return "fixed" if last else "broken"

    def labels(self) -> list[str]:
        """Each run's cell: ✓/✗, or ▲/▼ in the last run when the question changed, – unanswered."""
        out = []
        for j, passed in enumerate(self.passed):
            if passed is None:
                out.append("–")
            elif j == len(self.passed) - 1 and self.change:
                out.append("▲ pass" if passed else "▼ fail")  # changed: fixed or broken
            else:
                out.append("✓ pass" if passed else "✗ fail")
        return out


def question_rows(runs: list[EvalResult]) -> list[QuestionRow]:
    """The first run's questions, each with its outcome in every run (matched by the question)."""
    if not runs:
        return []
    rows = []
    for i, case in enumerate(runs[0].plan.cases):
        passed, answers = [], []
        for run in runs:
            j = next((k for k, t in enumerate(run.plan.cases) if t.query == case.query), i)
            cell = run.cells[0][j] if run.cells and j < len(run.cells[0]) else None
            done = cell is not None and cell.n > 0
            passed.append(cell.passed if done else None)
            answers.append(cell.output if done else "")
        rows.append(QuestionRow(case.query, passed, answers))
    return rows


def report_runs(report: LearnReport) -> list[tuple[str, int]]:
    """The report's stored runs as (column title, run id): Before, then After or each round."""
    ids = [("Before", report.baseline_run_id)] + [
        (f"Round {r.round}" if len(report.rounds) > 1 else "After", r.run_id) for r in report.rounds]
    return [(label, run_id) for label, run_id in ids if run_id is not None]


def column_headers(labels: list[str], runs: list[EvalResult]) -> list[str]:
    """The before/after matrix's headers: the question, then each run's title over passed/total."""
    headers = ["question"]
    for label, run in zip(labels, runs):
        s = run.column_stats(0)
        headers.append(f"{label}\n{s['passed']}/{s['total']}")
    return headers


def figures_text(cand: Candidate) -> str:
    """Train questions passed without → with the lesson, and how many it gained and lost."""
    return (f"{cand.train_before} → {cand.train_after} of {cand.train_total} "
            f"(+{len(cand.gained)} −{len(cand.lost)})")


def decision_text(cand: Candidate, status: str | None, lesson_id: int | None = None) -> str:
    """What became of a lesson tried: status is its proposal's, once the user decided."""
    if cand.decision == "proposed":
        if status == "accepted":
            return f"Accepted: lesson #{lesson_id}" if lesson_id else "Accepted"
        if status == "rejected":
            return "Rejected by you"
        return "Waits for you"
    if cand.decision == "accepted":
        return f"Added: lesson #{cand.lesson_id}" if cand.lesson_id else "Added"
    if cand.decision == "rejected":
        return "Not kept"
    if cand.decision == "replaced":
        return "Replaced by a later version"
    if cand.decision == "kept":  # validated, but learning stopped before it became a proposal
        return "Helped, not proposed (stopped)"
    return cand.decision or "Not decided"


def set_aside(cand: Candidate, status: str | None) -> bool:
    """Whether the list shows it greyed: learning did not keep it, or the user rejected it."""
    return cand.decision in ("rejected", "replaced") or status == "rejected"


def action_text(cand: Candidate) -> str:
    """What the lesson does to the notebook, in words."""
    if cand.action == "edit" and cand.related_id:
        return f"a rewrite of lesson #{cand.related_id}"
    if cand.action == "merge" and cand.related_id:
        return f"lesson #{cand.related_id} merged with a new one"
    return "a new lesson"


def candidate_row_html(cand: Candidate, status: str | None, colours: dict) -> str:
    """A lesson's row in the list: the rule, then its figures on a second, fainter line."""
    faint = colours["faint"]
    example = " · with an example" if cand.demo else ""
    where = SHORT_PLACEMENT.get(cand.placement, cand.placement)
    text = (f'{html.escape(cand.rule)}<br><span style="color:{faint}">train '
            f"{figures_text(cand)} · {where}{example}</span>")
    return f'<span style="color:{faint}">{text}</span>' if set_aside(cand, status) else text


def candidate_html(cand: Candidate, status: str | None, lesson_id: int | None, colours: dict) -> str:
    """A lesson tried, in full: rule, demonstration, where it goes, evidence and the decision."""
    e = html.escape
    parts = [f"<p><b>{e(cand.rule)}</b></p>"]
    if cand.demo:
        parts.append(f"<p>Shown as an example exchange:<br><i>{e(cand.demo[0])}</i><br>"
                     f"→ {e(cand.demo[1])}</p>")
    where = PLACEMENT_WORDS.get(cand.placement, cand.placement)
    cost = f", {cand.prompt_tokens} tokens" if cand.prompt_tokens else ""
    parts.append(f"<p>{e(action_text(cand)).capitalize()}, {e(AUTHOR_WORDS.get(cand.author, cand.author))}; "
                 f"{e(where)}{cost}."
                 + (f" For: {e(cand.situation)}." if cand.situation else "") + "</p>")
    parts.append(f"<p>Train questions passed: <b>{cand.train_before} → {cand.train_after}</b> "
                 f"of {cand.train_total}"
                 + (f" (checks: {e(cand.convention)})" if getattr(cand, "convention", "") else "") + ".</p>")
    tries = [t for t in getattr(cand, "demo_tries", []) if isinstance(t, dict) and t.get("query")]
    if len(tries) > 1:  # the demonstration was chosen by what helped most
        items = "".join(f"<li>{e(t['query'])}: {t.get('passed', 0)} of {t.get('of', 0)} pass</li>"
                        for t in tries[:6])
        parts.append(f"<p>Example exchanges tried (the best is kept):</p><ul>{items}</ul>")
    for title, queries, colour in (("Now pass", cand.gained, "success"), ("Now fail", cand.lost, "error")):
        if queries:
            own = cand.demo[0] if cand.demo else None  # passing by copying its example proves little
            items = "".join(f"<li>{e(q)}{' (its example’s own question)' if q == own else ''}</li>"
                            for q in queries[:12])
            more = f"<li>… and {len(queries) - 12} more</li>" if len(queries) > 12 else ""
            parts.append(f'<p style="color:{colours[colour]}">{title}:</p><ul>{items}{more}</ul>')
    parts.append(f"<p><b>{e(decision_text(cand, status, lesson_id))}</b>"
                 + (f": {e(cand.why)}" if cand.why else "") + "</p>")
    return "".join(parts)


def no_lesson_html(report: LearnReport) -> str:
    """Why the list of lessons tried is empty: the learner's first note, or the usual reasons."""
    why = report.notes[0] if report.notes else ("every train question passed, or "
                                                "none could be turned into a lesson.")
    return f"<p>No lesson was tried: {html.escape(why)}</p>"


def question_html(row: QuestionRow, labels: list[str], colours: dict) -> str:
    """A test question with its verdict and answer in each run."""
    parts = [f"<p><b>{html.escape(row.query)}</b></p>"]
    for label, passed, answer in zip(labels, row.passed, row.answers):
        verdict = "not answered" if passed is None else "passes" if passed else "fails"
        colour = colours["muted"] if passed is None else colours["success"] if passed else colours["error"]
        parts.append(f'<p><span style="color:{colour}">{html.escape(label)}: {verdict}</span><br>'
                     f"{html.escape(answer)}</p>")
    return "".join(parts)


def summary_text(report: LearnReport, rows: list[QuestionRow]) -> str:
    """The test questions passed before and after, how many changed, and the prompt's growth."""
    fixed = sum(r.change == "fixed" for r in rows)
    broken = sum(r.change == "broken" for r in rows)
    last = report.rounds[-1] if report.rounds else None
    if last is None:
        return (f"“{report.tasks}”: test questions passed before learning: {report.baseline_passed}/{report.n_test}. "
                "No round finished.")
    return (f"“{report.tasks}”: test questions passed {report.baseline_passed}/{report.n_test} before → "
            f"{last.test_passed}/{last.test_total} with the proposed lessons; {fixed} now pass, "
            f"{broken} now fail. Prompt: {report.baseline_prompt_tokens} → {last.prompt_tokens} tokens.")


def waiting_count(report: LearnReport) -> int:
    """How many lessons tried wait for the user to accept or reject."""
    return sum(cand.decision == "proposed" for cand in report.candidates)


def finished_text(report: LearnReport, stopped: bool) -> tuple[str, str]:
    """The end of a learning run as (head, tail): finished or stopped, and how many lessons wait."""
    n = waiting_count(report)
    head = "Stopped: what finished is shown." if stopped else "Learning finished."
    tail = (f"{n} lesson{'s' if n != 1 else ''} wait{'s' if n == 1 else ''} "
            "for you: accept or reject each." if n else "No lesson helped enough to propose.")
    return head, tail
