"""The evaluation matrix: rows are cases, columns are prompt variants x models, N repeats each.

Two halves, so a window can run the slow one on its engine thread: plan() reads the database
(document versions, the notebook's lessons) and composes every prompt; execute() only
generates and checks, touching no database. Cells run column by column, each column's cases
one after the other, so a variant's stable prefix (system prompt, examples, pinned lessons'
demonstrations) is processed once and llama.cpp's prefix cache serves every later case.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import WorkbenchError
from workbench.evals.checks import Verdict
from workbench.evals.tasks import Task
from workbench.prompt.compose import builtin_variables, compose, fill_variables
from workbench.prompt.document import PromptDocument
from workbench.runtime.engines import model_info
from workbench.runtime.generation import choose_mode, prompt_text, stream
from workbench.runtime.models import ModelInfo
from workbench.runtime.params import RunStats, SamplingParams, sample_seed
from workbench.runtime.remote import is_remote

if TYPE_CHECKING:  # only for type hints: importing it would load llama.cpp
    from workbench.runtime.engine import Engine
    from workbench.workspace import Workspace

JUDGE_SCHEMA = {"type": "object", "properties": {
    "pass": {"type": "boolean"}, "reason": {"type": "string", "maxLength": 160}},
    "required": ["pass", "reason"]}
JUDGE_PARAMS = SamplingParams(temperature=0, seed=0, max_tokens=160, repeat_penalty=1.0)
JUDGE_SYSTEM = ("You grade an assistant's answer against a rubric. Reply with JSON: `pass` is true "
                "when the answer meets the rubric, else false; `reason` says why, in your own words.")


@dataclass
class Variant:
    """A prompt variant: the draft or a saved version of the document."""

    label: str  # "draft", "v3"
    document: PromptDocument
    version_id: int | None = None
    version_number: int | None = None


@dataclass
class Column:
    label: str
    variant: str
    version_id: int | None
    version_number: int | None
    model_path: str
    model_name: str
    mode: str
    params: SamplingParams
    prompts: list[list[dict]]  # one message list per case

    def to_dict(self) -> dict:
        return {"label": self.label, "variant": self.variant, "version": self.version_number,
                "version_id": self.version_id, "model": self.model_name,
                "model_file": self.model_path, "mode": self.mode}


@dataclass
class Plan:
    cases: list[Task]
    columns: list[Column]
    repeats: int = 1
    seed: int | None = 0
    judge_model: str | None = None  # GGUF path; None: each column's own model grades
    document_id: int | None = None
    set_id: int | None = None
    set_name: str = ""
    kind: str = "eval"  # "eval", or "learn" for learning's before/after

    @property
    def total_cells(self) -> int:
        return len(self.columns) * len(self.cases) * self.repeats


@dataclass
class Attempt:
    """One repeat of one case in one column."""

    output: str
    passed: bool
    verdicts: list[Verdict]
    seed: int | None
    prompt_tokens: int = 0
    reused_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    error: str = ""


@dataclass
class Cell:
    attempts: list[Attempt] = field(default_factory=list)
    prompt: str = ""  # the exact text the model was given (after its template)

    @property
    def k(self) -> int:
        return sum(a.passed for a in self.attempts)

    @property
    def n(self) -> int:
        return len(self.attempts)

    @property
    def passed(self) -> bool:
        """More than half its repeats passed (with one repeat: that one passed)."""
        return self.n > 0 and 2 * self.k > self.n

    @property
    def output(self) -> str:
        return self.attempts[0].output if self.attempts else ""


@dataclass
class EvalResult:
    plan: Plan
    cells: list[list[Cell]]  # [column][case]
    status: str = "done"  # or "cancelled"
    seconds: float = 0.0
    run_id: int | None = None  # once stored
    created: str = ""

    def column_stats(self, j: int) -> dict:
        cells = self.cells[j]
        passed = sum(c.k for c in cells)
        total = sum(c.n for c in cells)
        low, high = wilson(passed, total)
        prompt = sum(a.prompt_tokens for c in cells for a in c.attempts)
        reused = sum(a.reused_tokens for c in cells for a in c.attempts)
        return {**self.plan.columns[j].to_dict(), "passed": passed, "total": total,
                "cases_passed": sum(c.passed for c in cells), "rate": passed / total if total else 0.0,
                "interval": [low, high] if total >= MIN_FOR_INTERVAL else None,
                "prompt_tokens": prompt, "reused_tokens": reused,
                "seconds": round(sum(a.seconds for c in cells for a in c.attempts), 3)}

    def compare(self, baseline: int) -> dict[int, dict[str, list[int]]]:
        """Per column other than the baseline: regressions (case indices that passed in the
        baseline and fail there) and fixes (the other way round)."""
        out = {}
        base = self.cells[baseline]
        for j, column in enumerate(self.cells):
            if j == baseline:
                continue
            both = [(i, b, c) for i, (b, c) in enumerate(zip(base, column)) if b.n and c.n]
            out[j] = {"regressions": [i for i, b, c in both if b.passed and not c.passed],
                      "fixes": [i for i, b, c in both if c.passed and not b.passed]}
        return out

    def reuse_share(self) -> float:
        """The share of prompt tokens taken from the KV cache instead of processed."""
        attempts = [a for col in self.cells for c in col for a in c.attempts]
        total = sum(a.prompt_tokens for a in attempts)
        return sum(a.reused_tokens for a in attempts) / total if total else 0.0

    def to_data(self, baseline: int = 0) -> dict:
        """What `workbench eval --json` prints."""
        compared = self.compare(baseline) if len(self.cells) > 1 else {}
        cols = self.plan.columns
        data = {"run_id": self.run_id, "status": self.status, "repeats": self.plan.repeats,
                "seed": self.plan.seed, "baseline": cols[baseline].label if cols else None,
                "columns": [self.column_stats(j) for j in range(len(cols))], "cases": [],
                "regressions": [], "fixes": []}
        for i, case in enumerate(self.plan.cases):
            results = []
            for j in range(len(cols)):
                cell = self.cells[j][i]
                results.append({"passed": cell.passed, "k": cell.k, "n": cell.n, "output": cell.output,
                                "outputs": [a.output for a in cell.attempts],
                                "seeds": [a.seed for a in cell.attempts],
                                "checks": [v.to_dict() for v in cell.attempts[0].verdicts]
                                if cell.attempts else [],
                                "prompt_tokens": cell.attempts[0].prompt_tokens if cell.attempts else 0,
                                "seconds": round(sum(a.seconds for a in cell.attempts), 3),
                                "error": next((a.error for a in cell.attempts if a.error), "")})
            data["cases"].append({"query": case.query, "vars": case.vars, "split": case.split,
                                  "results": results})
        for j, found in compared.items():
            for key in ("regressions", "fixes"):
                data[key] += [{"column": cols[j].label, "case": i, "query": self.plan.cases[i].query}
                              for i in found[key]]
        return data


MIN_FOR_INTERVAL = 5  # fewer outcomes than this say too little for an interval to help


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval for k successes in n (95% by default)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


# -- planning (reads the database; the window's thread) ----------------------------------


def variants_for(ws: Workspace, document_id: int, spec: str | None, draft: PromptDocument | None = None
                 ) -> list[Variant]:
    """Variants from `1,3,draft` (default: the draft). draft: the document as edited, if unsaved."""
    out = []
    for part in (spec or "draft").split(","):
        part = part.strip().lower()
        if part == "draft":
            out.append(Variant("draft", draft or ws.prompts.load_draft(document_id)))
        elif part.removeprefix("v").isdigit():
            v = ws.prompts.version(document_id, int(part.removeprefix("v")))
            if v.damaged:
                raise WorkbenchError(v.document.notes[0])
            out.append(Variant(f"v{v.number}", v.document, v.id, v.number))
        else:
            raise WorkbenchError(f"--versions takes version numbers and `draft`, comma-separated "
                                 f"(e.g. 1,3,draft); not {part!r}.")
    if not out:
        raise WorkbenchError("Choose at least one prompt version to evaluate.")
    return out


def plan(ws: Workspace, variants: list[Variant], models: list, cases: list[Task], *,
         repeats: int = 1, seed: int | None = 0, mode: str | None = None,
         overrides: dict | None = None, judge_model: str | None = None, **meta) -> Plan:
    """Compose every prompt of the matrix. overrides: sampling values that replace each
    variant's own (temperature, max_tokens)."""
    if not cases:
        raise WorkbenchError("The test set has no cases.")
    if not 1 <= repeats <= 100:
        raise WorkbenchError("--repeat is a number of repeats from 1 to 100.")
    if not models:
        raise WorkbenchError("Choose at least one model.")
    pinned = [l.ref() for l in ws.notebook.pinned()]
    today = date.today()  # one date for the whole run, in the system prompt and in the questions
    retrieved_for: dict[tuple[str, int], list] = {}
    columns = []
    for model in models:  # a GGUF path, or the ModelInfo of an engine already loaded
        info = model if isinstance(model, ModelInfo) else model_info(model)  # offline, even a URL
        chosen = choose_mode(info, mode).name
        for v in variants:
            params = replace(SamplingParams.from_dict(v.document.params), **(overrides or {}))
            prompts = []
            for case in cases:
                doc = v.document
                if case.vars:
                    doc = replace(doc, variables={**doc.variables, **case.vars})
                query, _ = fill_variables(case.query, {**builtin_variables(info.name, today),
                                                       **doc.variables})
                key = (query, doc.retrieval_k)  # the same lessons for every column that asks it
                if key not in retrieved_for:
                    retrieved_for[key] = [l.ref() for l in ws.notebook.relevant(query, doc.retrieval_k)] \
                        if query.strip() else []
                convo = [{"role": "user", "content": query}] if query.strip() else []
                c = compose(doc, convo, pinned=pinned, retrieved=retrieved_for[key],
                            count_tokens=_approx, n_ctx=0, model_name=info.name, mode=chosen,
                            today=today)
                prompts.append(c.messages)
            # The file names the model as the user chose it; GGUF names are often long or shared.
            label = v.label if len(models) == 1 else f"{v.label} · {Path(info.path).stem}"
            columns.append(Column(label, v.label, v.version_id, v.version_number, str(info.path),
                                  info.name, chosen, params, prompts))
    return Plan(cases, columns, repeats, seed, judge_model, **meta)


def _approx(text: str) -> int:
    return len(text) // 4  # the breakdown is not used here; no tokenizer on this thread


# -- executing (the engine's thread; no database) ----------------------------------------

Progress = Callable[[dict], None]


def execute(plan: Plan, get_engine: Callable[[str], Engine], progress: Progress | None = None,
            cancelled: Callable[[], bool] = lambda: False) -> EvalResult:
    """Run the matrix. get_engine(path) gives a loaded engine for a model file. progress gets
    {"done", "total", "eta_s", "column", "case"} after each cell; cancelled() stops it at once
    (what finished is kept and the status says "cancelled")."""
    start = time.perf_counter()
    cells = [[Cell() for _ in plan.cases] for _ in plan.columns]
    done, total = 0, plan.total_cells
    status = "done"
    # Columns of one model together: each model is loaded once.
    order = sorted(range(len(plan.columns)), key=lambda j: (plan.columns[j].model_path, j))
    judged: list[tuple[int, int, Attempt]] = []
    for j in order:
        col = plan.columns[j]
        engine = get_engine(col.model_path)
        for i, case in enumerate(plan.cases):
            messages = col.prompts[i]
            try:
                cells[j][i].prompt = prompt_text(engine, col.mode, messages)
            except WorkbenchError as e:
                cells[j][i].prompt = f"(the prompt could not be rendered: {e})"
            for r in range(plan.repeats):
                if cancelled():
                    status = "cancelled"
                    break
                seed = sample_seed(plan.seed, r)
                attempt = _attempt(engine, col, messages, replace(col.params, seed=seed), case, cancelled)
                if attempt is None:
                    status = "cancelled"
                    break
                cells[j][i].attempts.append(attempt)
                if any(c.kind == "judge" for c in case.checks) and not attempt.error:
                    judged.append((j, i, attempt))
                done += 1
                if progress:
                    elapsed = time.perf_counter() - start
                    progress({"done": done, "total": total, "column": col.label, "case": i,
                              "eta_s": elapsed / done * (total - done)})
            if status == "cancelled":
                break
        if status == "cancelled":
            break
    if judged and status == "done":
        # Graded after every answer is written: the judge's prompt would otherwise throw away
        # the column's cached prefix between cases.
        _grade(plan, judged, get_engine, cancelled)
    return EvalResult(plan, cells, status, time.perf_counter() - start)


def _attempt(engine: Engine, col: Column, messages: list[dict], params: SamplingParams, case: Task,
             cancelled) -> Attempt | None:
    pieces, stats = [], RunStats()
    try:
        for item in stream(engine, col.mode, messages, params):
            if isinstance(item, RunStats):
                stats = item
            else:
                pieces.append(item)
                if cancelled():
                    engine.cancel()  # an engine the worker does not know about stops too
    except WorkbenchError as e:
        return Attempt("", False, [], params.seed, error=str(e))
    if stats.finish_reason == "cancelled" or cancelled():
        return None
    output = "".join(pieces).strip()
    verdicts = case.verdicts(output, judge=_pending_judge)
    return Attempt(output, all(v.passed for v in verdicts), verdicts, params.seed, stats.prompt_tokens,
                   stats.reused_tokens, stats.completion_tokens, stats.total_s)


def _pending_judge(rubric: str, question: str, answer: str) -> tuple[bool, str]:
    return False, "not graded yet"


def _grade(plan: Plan, judged, get_engine, cancelled) -> None:
    by_model: dict[str, list] = {}
    for j, i, attempt in judged:
        by_model.setdefault(plan.judge_model or plan.columns[j].model_path, []).append((j, i, attempt))
    for path, items in by_model.items():
        engine = get_engine(path)
        mode = choose_mode(engine.info).name
        for _j, i, attempt in items:
            if cancelled():
                return
            case = plan.cases[i]
            judge = _judge_with(engine, mode)
            attempt.verdicts = case.verdicts(attempt.output, judge=judge)
            attempt.passed = all(v.passed for v in attempt.verdicts)


def _judge_with(engine: Engine, mode: str):
    from workbench.runtime.generation import collect

    def judge(rubric: str, question: str, answer: str) -> tuple[bool, str]:
        messages = [{"role": "system", "content": JUDGE_SYSTEM},
                    {"role": "user", "content": f"Rubric: {rubric}\n\nQuestion: {question}\n\n"
                                                f"Answer: {answer}\n\nDoes the answer meet the rubric?"}]
        try:
            text, _ = collect(stream(engine, mode, messages, JUDGE_PARAMS, json_schema=JUDGE_SCHEMA))
            # strict=False: the grammar lets a small model put raw line breaks inside the reason.
            data = json.loads(text, strict=False)
            reason = " ".join(str(data.get("reason", "")).split())
            return bool(data["pass"]), reason or "(no reason given)"
        except (WorkbenchError, ValueError, KeyError, TypeError) as e:
            return False, f"the judge's reply could not be read ({str(e)[:80]})"
    return judge


class EngineCache:
    """Engines by model file for one evaluation: the one already loaded, others loaded on first
    use (one at a time: the previous extra one is unloaded) and closed at the end."""

    def __init__(self, engine: Engine | None = None, n_ctx: int | None = None):
        self.engine, self.n_ctx = engine, n_ctx
        self.extra: tuple[str, Engine] | None = None

    def __call__(self, path: str) -> Engine:
        from workbench.runtime.engines import open_engine
        from workbench.runtime.params import LoadOptions
        if self.engine is not None and self.engine.loaded and _same_model(self.engine.info.path, path):
            return self.engine
        if self.extra and self.extra[0] == path:
            return self.extra[1]
        self.close()
        engine = open_engine(path, LoadOptions(n_ctx=self.n_ctx))  # a GGUF or a server's model
        self.extra = (path, engine)
        return engine

    def close(self) -> None:
        if self.extra:
            self.extra[1].unload()
            self.extra = None


def _same_model(a: str, b: str) -> bool:
    if is_remote(a) or is_remote(b):
        return a == b
    return Path(a).resolve() == Path(b).resolve()
