"""Learning's results in the Learn page's words: the before/after rows, each lesson tried, the summary."""

from tests.evals.test_run_text import column
from workbench.evals.checks import make_check
from workbench.evals.learn_report import Candidate, LearnReport, Round
from workbench.evals.learn_text import (
    candidate_html,
    candidate_row_html,
    column_headers,
    decision_text,
    figures_text,
    finished_text,
    no_lesson_html,
    question_html,
    question_rows,
    report_runs,
    summary_text,
)
from workbench.evals.runner import Attempt, Cell, EvalResult, Plan
from workbench.evals.tasks import Task

COLOURS = {"faint": "#faint0", "muted": "#muted0", "success": "#good00", "error": "#bad000"}


def run(outcomes: dict[str, bool | None]) -> EvalResult:
    """One column; each question passed, failed, or (None) was not answered."""
    cases = [Task(q, [make_check("contains", "x")], split="test") for q in outcomes]
    cells = [Cell([Attempt(f"answer to {q}", p, [], seed=0)] if p is not None else [])
             for q, p in outcomes.items()]
    return EvalResult(Plan(cases, [column("draft")]), [cells])


def candidate(rule="Give distances in km.", decision="proposed", **kw) -> Candidate:
    fields = {"demo": None, "situation": "", "action": "new", "placement": "pinned", "author": "tasks",
              "train_before": 1, "train_after": 3, "train_total": 4, "gained": ["a?", "b?"], "lost": []}
    return Candidate(rule, **{**fields, **kw}, decision=decision)


def report(candidates=(), rounds=1, baseline_run_id=1) -> LearnReport:
    return LearnReport("m", "km", n_train=4, n_test=3, baseline_passed=1, baseline_prompt_tokens=40,
                       rounds=[Round(r + 1, 2, [], 2, 3, 55, run_id=10 + r) for r in range(rounds)],
                       baseline_run_id=baseline_run_id, candidates=list(candidates))


def test_rows_follow_each_question_across_runs_and_mark_what_changed():
    before = run({"Oslo?": False, "Rome?": True, "Lima?": True, "Kyiv?": False})
    after = run({"Rome?": False, "Kyiv?": None, "Oslo?": True, "Lima?": True})  # another order
    rows = question_rows([before, after])
    assert [r.query for r in rows] == ["Oslo?", "Rome?", "Lima?", "Kyiv?"]  # the first run's order
    assert [r.change for r in rows] == ["fixed", "broken", "", ""]
    assert [r.labels() for r in rows] == [["✗ fail", "▲ pass"], ["✓ pass", "▼ fail"],
                                          ["✓ pass", "✓ pass"], ["✗ fail", "–"]]
    assert rows[0].answers == ["answer to Oslo?", "answer to Oslo?"] and rows[3].answers[1] == ""
    assert question_rows([]) == []


def test_only_the_last_run_carries_the_change_mark():
    rows = question_rows([run({"Oslo?": False}), run({"Oslo?": False}), run({"Oslo?": True})])
    assert rows[0].labels() == ["✗ fail", "✗ fail", "▲ pass"]


def test_the_summary_counts_fixed_and_broken_questions_and_the_prompt_growth():
    rows = question_rows([run({"Oslo?": False, "Rome?": True, "Lima?": False}),
                          run({"Oslo?": True, "Rome?": False, "Lima?": True})])
    text = summary_text(report(), rows)
    assert "1/3 before → 2/3 with the proposed lessons" in text
    assert "2 now pass, 1 now fail" in text and "40 → 55 tokens" in text
    assert "No round finished" in summary_text(report(rounds=0), rows)


def test_the_runs_are_titled_before_and_after_or_by_round_and_headers_count_passes():
    assert report_runs(report()) == [("Before", 1), ("After", 10)]
    assert report_runs(report(rounds=2)) == [("Before", 1), ("Round 1", 10), ("Round 2", 11)]
    assert report_runs(report(baseline_run_id=None)) == [("After", 10)]  # not stored: left out
    runs = [run({"Oslo?": False, "Rome?": True}), run({"Oslo?": True, "Rome?": True})]
    assert column_headers(["Before", "After"], runs) == ["question", "Before\n1/2", "After\n2/2"]


def test_decisions_in_words_follow_the_proposal_once_the_user_decided():
    waiting = candidate()
    assert decision_text(waiting, "pending") == "Waits for you"
    assert decision_text(waiting, "accepted", 12) == "Accepted: lesson #12"
    assert decision_text(waiting, "rejected") == "Rejected by you"
    assert decision_text(candidate(decision="rejected"), None) == "Not kept"
    assert decision_text(candidate(decision="accepted", lesson_id=5), None) == "Added: lesson #5"
    assert decision_text(candidate(decision="kept"), None).startswith("Helped, not proposed")


def test_a_lesson_row_shows_rule_and_figures_greyed_when_set_aside():
    cand = candidate(rule="Use <km>", placement="retrieved", demo=("q", "a"))
    assert figures_text(cand) == "1 → 3 of 4 (+2 −0)"
    row = candidate_row_html(cand, "pending", COLOURS)
    assert "Use &lt;km&gt;" in row and "train 1 → 3 of 4 (+2 −0) · when relevant · with an example" in row
    assert not row.startswith('<span style="color:#faint0">')
    for greyed in (candidate_row_html(cand, "rejected", COLOURS),
                   candidate_row_html(candidate(decision="replaced"), None, COLOURS)):
        assert greyed.startswith('<span style="color:#faint0">')


def test_a_lesson_in_full_shows_its_evidence_in_the_palette_given():
    gained = [f"g{i}?" for i in range(14)]
    cand = candidate(demo=("g0?", "About 5 km."), gained=gained, lost=["l?"], action="edit", related_id=3,
                     why="it helped", prompt_tokens=17, convention="contains: km")
    page = candidate_html(cand, "pending", None, COLOURS)
    assert "A rewrite of lesson #3, built from the test set" in page
    assert "always in the prompt, 17 tokens" in page and "(checks: contains: km)" in page
    assert "g0? (its example’s own question)" in page and "g11?" in page and "g12?" not in page
    assert "… and 2 more" in page
    assert '<p style="color:#good00">Now pass:' in page and '<p style="color:#bad000">Now fail:' in page
    assert page.endswith("<p><b>Waits for you</b>: it helped</p>")


def test_a_question_shows_each_runs_verdict_and_answer():
    rows = question_rows([run({"Oslo <b>?": False}), run({"Oslo <b>?": None})])
    page = question_html(rows[0], ["Before", "After"], COLOURS)
    assert "Oslo &lt;b&gt;?" in page
    assert '<span style="color:#bad000">Before: fails</span>' in page
    assert '<span style="color:#muted0">After: not answered</span>' in page


def test_the_end_of_learning_says_how_many_lessons_wait():
    two = report([candidate(), candidate(), candidate(decision="rejected")])
    assert finished_text(two, False) == ("Learning finished.", "2 lessons wait for you: accept or reject each.")
    assert finished_text(report([candidate()]), True)[1].startswith("1 lesson waits for you")
    assert finished_text(report(), True) == ("Stopped: what finished is shown.",
                                             "No lesson helped enough to propose.")


def test_no_lesson_tried_says_why():
    assert "every train question passed" in no_lesson_html(report())
    noted = report()
    noted.notes = ["the model <failed>"]
    assert no_lesson_html(noted) == "<p>No lesson was tried: the model &lt;failed&gt;</p>"
