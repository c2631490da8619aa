"""An evaluation run in the Evaluate view's words: headers, cells, the comparison, progress, history."""

from tests.test_layers import loaded_after
from workbench.evals.checks import make_check
from workbench.evals.run_text import (
    case_numbers,
    cell_label,
    column_header,
    comparison_text,
    finished_text,
    history_line,
    progress_text,
    regressed_cells,
    set_label,
    set_name_of,
)
from workbench.evals.runner import Attempt, Cell, Column, EvalResult, Plan
from workbench.evals.tasks import Task
from workbench.runtime.params import SamplingParams


def column(label: str) -> Column:
    return Column(label, label, None, None, "m.gguf", "m", "chat", SamplingParams(), [])


def cell(*passed: bool, prompt_tokens: int = 10, reused: int = 0) -> Cell:
    return Cell([Attempt("answer", p, [], seed=r, prompt_tokens=prompt_tokens, reused_tokens=reused)
                 for r, p in enumerate(passed)])


def result(columns: dict[str, list[bool]], **kw) -> EvalResult:
    """One repeat per case; columns maps a label to each case's outcome."""
    n = len(next(iter(columns.values())))
    cases = [Task(f"question {i + 1}?", [make_check("contains", "x")]) for i in range(n)]
    return EvalResult(Plan(cases, [column(label) for label in columns]),
                      [[cell(p) for p in outcomes] for outcomes in columns.values()], **kw)


def test_the_comparison_names_regressions_and_fixes_by_row_number():
    r = result({"v3": [True, True, False, True], "v2": [False, True, True, False]})
    compared = r.compare(0)
    text = comparison_text(["v3", "v2"], 0, compared)
    assert text == "v2 vs v3: 2 regression(s) (#1, #4), 1 fix(es) (#3)"
    assert regressed_cells(compared) == {(1, 0), (1, 3)}


def test_the_comparison_against_another_baseline_and_when_nothing_changed():
    r = result({"v3": [True, False], "v2": [False, False], "draft": [True, False]})
    text = comparison_text(["v3", "v2", "draft"], 1, r.compare(1))
    lines = text.splitlines()
    assert [line.split(":")[0] for line in lines] == ["v3 vs v2", "draft vs v2"]
    assert all("0 regression(s)" in line and line.endswith("1 fix(es) (#1)") for line in lines)
    same = result({"v3": [True, False], "v2": [True, False]})
    assert comparison_text(["v3", "v2"], 0, same.compare(0)) == "No regressions."
    assert comparison_text(["v3"], 0, {}) == ""  # one column: nothing to compare


def test_long_lists_of_cases_are_cut_after_ten():
    assert case_numbers(list(range(12))) == "(#1, #2, #3, #4, #5, #6, #7, #8, #9, #10 …)"
    assert case_numbers([4]) == "(#5)" and case_numbers([]) == ""


def test_cells_and_headers_show_repeats_passed_and_mark_regressions():
    assert cell_label(2, 3, False) == "2/3" and cell_label(0, 1, True) == "▼ 0/1"
    r = result({"v3": [True, True, False]})
    header = column_header("v3", r.column_stats(0))
    assert header.splitlines()[0] == "v3" and header.splitlines()[1].startswith("2/3 67%")


def test_a_finished_run_says_its_time_and_cache_share_and_a_stopped_one_says_so():
    done = EvalResult(Plan([Task("q?", [])], [column("v1")]), [[cell(True, prompt_tokens=40, reused=30)]],
                      seconds=12.34)
    assert finished_text(done) == "Done in 12.3 s; 75% of prompt tokens came from the cache."
    stopped = result({"v1": [True]}, status="cancelled")
    assert finished_text(stopped).startswith("Stopped")


def test_progress_and_history_lines():
    assert progress_text({"done": 3, "total": 12, "column": "v2 · m", "eta_s": 125.7}) == \
        "3/12 · v2 · m · about 2:05 left"
    row = {"run_id": 7, "created": "2026-12-01T15:04:05.123", "passed": 3, "total": 4, "rate": 0.75,
           "model_name": "SmolLM2", "kind": "eval"}
    assert history_line(row) == "run 7 · 2026-12-01 15:04 · 3/4 (75%) · SmolLM2"
    assert history_line({**row, "kind": "learn"}).endswith(" · learn")


def test_a_set_name_survives_its_label_even_with_brackets_in_it():
    for name in ("km", "units (metric)", ""):
        assert set_name_of(set_label(name, 12)) == name
    assert set_label("km", 3) == "km (3)"


def test_the_text_modules_load_no_qt_and_no_llama_cpp():
    for module in ("workbench.evals.run_text", "workbench.evals.learn_text"):
        assert loaded_after(f"import {module}") == {"llama_cpp": False, "PySide6": False}
