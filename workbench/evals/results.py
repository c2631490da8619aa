"""Every evaluation run kept: its columns (versions and models), cells and the cases as they were,
so each prompt version carries its scores over time."""

import json

from workbench.db import WorkbenchDatabase, get_row, now
from workbench.evals.checks import Verdict, make_check
from workbench.evals.runner import Attempt, Cell, Column, EvalResult, Plan, wilson
from workbench.evals.tasks import Task
from workbench.runtime.params import SamplingParams


class EvalStore:
    """Args:
        db: an open workbench database.
    """

    def __init__(self, db: WorkbenchDatabase):
        self.db = db

    def save(self, result: EvalResult) -> int:
        """Store a run (cancelled ones too: what finished is worth keeping); returns its id."""
        p = result.plan
        cases = [{"query": t.query, "vars": t.vars, "checks": [c.to_dict() for c in t.checks],
                  "ideal": t.ideal, "split": t.split} for t in p.cases]
        params = p.columns[0].params.to_dict() if p.columns else {}
        with self.db.atomic("evaluation results"):
            run_id = self.db["eval_runs"].insert({
                "created": now(), "kind": p.kind, "document_id": p.document_id, "set_id": p.set_id,
                "set_name": p.set_name, "repeats": p.repeats, "seed": p.seed,
                "params": json.dumps(params), "status": result.status,
                "seconds": round(result.seconds, 3), "cases": json.dumps(cases, ensure_ascii=False),
            }).last_pk
            for j, col in enumerate(p.columns):
                s = result.column_stats(j)
                self.db["eval_columns"].insert({
                    "run_id": run_id, "position": j, "label": col.label, "version_id": col.version_id,
                    "version_number": col.version_number, "model_name": col.model_name,
                    "model_file": col.model_path, "mode": col.mode, "passed": s["passed"],
                    "total": s["total"], "cases_passed": s["cases_passed"]})
                rows = []
                for i, cell in enumerate(result.cells[j]):
                    for r, a in enumerate(cell.attempts):
                        rows.append({"run_id": run_id, "column_index": j, "case_index": i, "repeat": r,
                                     "seed": a.seed, "output": a.output, "passed": int(a.passed),
                                     "verdicts": json.dumps([v.to_dict() for v in a.verdicts],
                                                            ensure_ascii=False),
                                     # The prompt is the same for every repeat: kept once.
                                     "prompt": cell.prompt if r == 0 else None,
                                     "prompt_tokens": a.prompt_tokens, "reused_tokens": a.reused_tokens,
                                     "completion_tokens": a.completion_tokens,
                                     "seconds": round(a.seconds, 4), "error": a.error or None})
                self.db["eval_cells"].insert_all(rows)
        result.run_id = run_id
        return run_id

    def runs(self, document_id: int | None = None, limit: int = 100) -> list[dict]:
        """Runs, newest first, each with its columns' labels and scores."""
        where, args = ("where document_id = ?", [document_id]) if document_id is not None else ("", [])
        runs = list(self.db.query(f"select id, created, kind, document_id, set_name, repeats, status, "
                                  f"seconds from eval_runs {where} order by id desc limit ?", [*args, limit]))
        for run in runs:
            run["columns"] = list(self.db.query(
                "select label, version_number, model_name, passed, total, cases_passed "
                "from eval_columns where run_id = ? order by position", [run["id"]]))
        return runs

    def history(self, document_id: int) -> dict[str, list[dict]]:
        """Per prompt version ("v3", or "draft"), its scores over time, oldest first:
        run id, created, set, model, passed, total, rate and its 95% interval."""
        out: dict[str, list[dict]] = {}
        for row in self.db.query("""
                select c.run_id, r.created, r.set_name, r.kind, c.version_number, c.model_name,
                       c.passed, c.total from eval_columns c join eval_runs r on r.id = c.run_id
                where r.document_id = ? order by c.run_id, c.position""", [document_id]):
            key = f"v{row['version_number']}" if row["version_number"] is not None else "draft"
            low, high = wilson(row["passed"], row["total"])
            out.setdefault(key, []).append({**row, "rate": row["passed"] / row["total"] if row["total"] else 0.0,
                                            "interval": [low, high]})
        return out

    def load(self, run_id: int) -> EvalResult:
        """A stored run rebuilt as an EvalResult (prompts are kept as rendered text only)."""
        run = get_row(self.db, "eval_runs", run_id, f"evaluation run {run_id}")
        cases = [Task(c["query"], [make_check(k["type"], k.get("value")) for k in c["checks"]],
                      c.get("ideal"), c.get("split") or "train", c.get("vars") or {})
                 for c in json.loads(run["cases"])]
        params = SamplingParams.from_dict(json.loads(run["params"] or "{}"))
        columns = [Column(r["label"], r["label"], r["version_id"], r["version_number"], r["model_file"],
                          r["model_name"], r["mode"], params, [])
                   for r in self.db.query("select * from eval_columns where run_id = ? order by position",
                                          [run_id])]
        cells = [[Cell() for _ in cases] for _ in columns]
        for r in self.db.query("select * from eval_cells where run_id = ? order by column_index, "
                               "case_index, repeat", [run_id]):
            cell = cells[r["column_index"]][r["case_index"]]
            if r["prompt"] is not None:
                cell.prompt = r["prompt"]
            cell.attempts.append(Attempt(r["output"], bool(r["passed"]),
                                         [Verdict(kind=v["type"], passed=v["passed"], reason=v["reason"])
                                          for v in json.loads(r["verdicts"] or "[]")],
                                         r["seed"], r["prompt_tokens"], r["reused_tokens"],
                                         r["completion_tokens"], r["seconds"], r["error"] or ""))
        plan = Plan(cases, columns, run["repeats"], run["seed"], None, run["document_id"], run["set_id"],
                    run["set_name"] or "", run["kind"])
        return EvalResult(plan, cells, run["status"], run["seconds"] or 0.0, run_id, run["created"])

