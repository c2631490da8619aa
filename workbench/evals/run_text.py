"""An evaluation run as the Evaluate view words it: matrix headers and cells, the comparison with the
baseline column, progress, the finished run and its line in the history."""

from workbench.evals.report import rate_text
from workbench.evals.runner import EvalResult


def set_label(name: str, cases: int) -> str:
    """A test set as the set list shows it: its name and how many cases it has."""
    return f"{name} ({cases})"


def set_name_of(label: str) -> str:
    """The test set's name back from its label in the list."""
    return label.rsplit(" (", 1)[0]


def column_header(label: str, stats: dict) -> str:
    """A column's title over its pass rate (EvalResult.column_stats)."""
    return f"{label}\n{rate_text(stats)}"


def regressed_cells(compared: dict[int, dict[str, list[int]]]) -> set[tuple[int, int]]:
    """(column, case) of every regression in EvalResult.compare's answer."""
    return {(j, i) for j, found in compared.items() for i in found["regressions"]}


def cell_label(k: int, n: int, regressed: bool) -> str:
    """k/N repeats passed; ▼ in front when it passed in the baseline and fails here."""
    return ("▼ " if regressed else "") + f"{k}/{n}"


def regression_tip(baseline: str) -> str:
    """The tooltip of a regressed cell."""
    return f"Regression: passed in {baseline}, fails here"


def case_numbers(indices: list[int]) -> str:
    """Case indices as the rows are numbered, (#1, #4, …) after ten; empty for none."""
    if not indices:
        return ""
    return "(" + ", ".join(f"#{i + 1}" for i in indices[:10]) + (" …" if len(indices) > 10 else "") + ")"


def comparison_text(labels: list[str], baseline: int, compared: dict[int, dict[str, list[int]]]) -> str:
    """A line per column that differs from the baseline: its regressions and fixes, numbered."""
    lines = []
    for j, found in compared.items():
        if found["regressions"] or found["fixes"]:
            lines.append(f"{labels[j]} vs {labels[baseline]}: {len(found['regressions'])} "
                         f"regression(s) {case_numbers(found['regressions'])}, {len(found['fixes'])} "
                         f"fix(es) {case_numbers(found['fixes'])}")
    return "\n".join(lines) or ("No regressions." if compared else "")


def progress_text(report: dict) -> str:
    """A progress report from runner.execute: cells done, the column running, the time left."""
    left = int(report["eta_s"])
    return f"{report['done']}/{report['total']} · {report['column']} · about {left // 60}:{left % 60:02d} left"


def finished_text(result: EvalResult) -> str:
    """How a run ended: stopped, or its time and the share of prompt tokens the cache supplied."""
    if result.status == "cancelled":
        return "Stopped: the cells that finished are shown."
    return f"Done in {result.seconds:.1f} s; {result.reuse_share():.0%} of prompt tokens came from the cache."


def history_line(row: dict) -> str:
    """A stored run in the history list (EvalStore.history): id, time, passed, model, kind."""
    return (f"run {row['run_id']} · {row['created'][:16].replace('T', ' ')} · "
            f"{row['passed']}/{row['total']} ({row['rate']:.0%}) · {row['model_name']}"
            f"{' · learn' if row['kind'] == 'learn' else ''}")
