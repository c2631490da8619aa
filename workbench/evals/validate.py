"""Evaluating the notebook with a candidate change (a new lesson, an edit, a merge) on chosen train
cases: the change is applied inside Notebook.trial(), the prompts are planned there, and the plan
is executed after the block, one case at a time so a run can stop at the first regression."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from typing import TYPE_CHECKING

from workbench.evals.results import EvalStore
from workbench.evals.runner import Cell, EvalResult, Plan, Variant, execute, plan
from workbench.evals.tasks import Task
from workbench.notebook.lessons import Notebook
from workbench.prompt.document import PromptDocument
from workbench.runtime.params import SamplingParams
from workbench.workspace import Workspace

if TYPE_CHECKING:  # only for type hints: importing it would load llama.cpp
    from workbench.runtime.engine import Engine

Change = Callable[[Notebook], object]


class Validator:
    """Args:
        ws: the workspace whose notebook is tried; engine: the student; mode, doc, params: how
        the cases are answered; document_id, set_name: what the stored runs belong to.
    """

    def __init__(self, ws: Workspace, engine: Engine, mode: str, doc: PromptDocument,
                 params: SamplingParams, document_id: int | None = None, set_name: str = ""):
        self.ws, self.engine, self.mode, self.doc, self.params = ws, engine, mode, doc, params
        self.document_id, self.set_name = document_id, set_name

    def prepare(self, cases: list[Task], change: Change, kind: str = "validate") -> tuple[Plan, int, object]:
        """The plan of every case with the change applied, the prompt's tokens then (system
        prompt and example turns), and what change returned; the notebook is left as it was."""
        with self.ws.notebook.trial() as nb:
            applied = change(nb)
            p = plan(self.ws, [Variant("draft", self.doc)], [self.engine.info], cases,
                     seed=self.params.seed, mode=self.mode, overrides=asdict(self.params), kind=kind,
                     document_id=self.document_id, set_name=self.set_name)
            tokens = self.ws.compose(self.doc, [], self.engine).total_tokens
        return p, tokens, applied

    def run(self, p: Plan, indices, stop: Callable[[int, Cell], bool] = lambda i, c: False,
            cancelled: Callable[[], bool] = lambda: False,
            progress: Callable[[int], None] | None = None) -> tuple[dict[int, Cell], bool]:
        """Execute the plan's cases at indices in order; stop(i, cell) ends the run early.
        Returns the cells by case index and whether it was cancelled."""
        cells: dict[int, Cell] = {}
        for n, i in enumerate(indices, 1):
            if cancelled():
                return cells, True
            one = replace(p, cases=[p.cases[i]],
                          columns=[replace(c, prompts=[c.prompts[i]]) for c in p.columns])
            result = execute(one, lambda _path: self.engine, cancelled=cancelled)
            if result.status == "cancelled":
                return cells, True
            cells[i] = result.cells[0][0]
            if progress:
                progress(n)
            if stop(i, cells[i]):
                break
        return cells, False

    def save(self, p: Plan, cells: dict[int, Cell]) -> int | None:
        """Store the cases that ran as one evaluation run (the plan's kind); its id."""
        if not cells:
            return None
        order = sorted(cells)
        sub = replace(p, cases=[p.cases[i] for i in order],
                      columns=[replace(c, prompts=[c.prompts[i] for i in order]) for c in p.columns])
        result = EvalResult(sub, [[cells[i] for i in order]],
                            seconds=sum(a.seconds for c in cells.values() for a in c.attempts))
        return EvalStore(self.ws.db).save(result)
