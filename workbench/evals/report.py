"""Evaluation results as people read them: the matrix as text, a cell's state and its details."""

import json

from workbench.evals.checks import short
from workbench.evals.runner import EvalResult


def _shorten(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def rate_text(column: dict) -> str:
    """`passed/total rate [low–high]` (the interval when there are enough outcomes)."""
    interval = f" [{column['interval'][0]:.0%}–{column['interval'][1]:.0%}]" if column["interval"] else ""
    return f"{column['passed']}/{column['total']} {column['rate']:.0%}{interval}"


def matrix_text(data: dict) -> str:
    """The matrix (EvalResult.to_data) as text: a row per case, a cell per column (k/N and ok
    or x; ! marks a regression against the baseline), then each column's pass rate."""
    cols = data["columns"]
    regressed = {(r["column"], r["case"]) for r in data["regressions"]}
    width = max(12, *(len(c["label"]) + 2 for c in cols), *(len(rate_text(c)) + 2 for c in cols))
    lines = ["case".ljust(44) + "".join(c["label"].ljust(width) for c in cols)]
    for i, case in enumerate(data["cases"]):
        cells = []
        for c, r in zip(cols, case["results"]):
            mark = "ok" if r["passed"] else "x"
            flag = " !" if (c["label"], i) in regressed else ""
            cells.append(f"{r['k']}/{r['n']} {mark}{flag}".ljust(width))
        query = case["query"] or json.dumps(case["vars"], ensure_ascii=False)
        lines.append(f"{i + 1:>3} {_shorten(query, 39):<40}" + "".join(cells).rstrip())
    lines.append("pass rate".ljust(44) + "".join(rate_text(c).ljust(width) for c in cols).rstrip())
    if data["status"] != "done":
        lines.append(f"(stopped early: {data['status']})")
    for key, title in (("regressions", "Regressions"), ("fixes", "Fixes")):
        if data[key]:
            lines.append(f"\n{title} against {data['baseline']}:")
            lines += [f"  {r['column']}: case {r['case'] + 1} {_shorten(r['query'], 60)!r}" for r in data[key]]
    return "\n".join(lines) + "\n"


def cell_state(k: int, n: int) -> str:
    """"pass" (every repeat passed), "fail" (none), "mixed", or "empty" (not run)."""
    if n == 0:
        return "empty"
    return "pass" if k == n else "fail" if k == 0 else "mixed"


def cell_details(result: EvalResult, j: int, i: int) -> str:
    """What a click on a cell shows: each repeat's output and the checks' verdicts, then the
    exact prompt the model was given."""
    col, case, cell = result.plan.columns[j], result.plan.cases[i], result.cells[j][i]
    lines = [f"Case {i + 1}: {case.query}", f"Column: {col.label} ({col.model_name}, {col.mode} mode)",
             f"Checks: {' | '.join(short(c) for c in case.checks)}",
             f"Result: {cell.k}/{cell.n} repeats passed", ""]
    if case.vars:
        lines.insert(1, "Variables: " + ", ".join(f"{k}={v}" for k, v in case.vars.items()))
    for r, a in enumerate(cell.attempts):
        lines.append(f"— repeat {r + 1} (seed {a.seed}): {'passed' if a.passed else 'failed'}, "
                     f"{a.completion_tokens} tokens, {a.seconds:.2f} s, {a.reused_tokens} of "
                     f"{a.prompt_tokens} prompt tokens from the cache")
        if a.error:
            lines.append(f"error: {a.error}")
        lines.append(a.output or "(empty answer)")
        lines += [f"  {'✓' if v.passed else '✗'} {v.kind}: {v.reason}" for v in a.verdicts]
        lines.append("")
    if case.ideal:
        lines += ["Ideal answer:", case.ideal, ""]
    lines += ["Exact prompt:", cell.prompt or "(not recorded)"]
    return "\n".join(lines)
