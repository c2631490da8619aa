"""Learn from a task set: lessons from failures on the train split, pass rate on the test split.

Learning from the questions it is scored on would prove nothing, so lessons
come only from train failures and the pass rate is reported on test questions
the lessons never saw, before and after each round.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from workbench.evals.checks import describe
from workbench.evals.results import EvalStore
from workbench.evals.runner import EvalResult, Variant, execute, plan
from workbench.evals.tasks import Task
from workbench.notebook.proposals import ProposalStore
from workbench.notebook.reflection import Proposal, judge, reflect, situation_from_failures
from workbench.prompt.document import PromptDocument
from workbench.runtime.params import SamplingParams
from workbench.workspace import Workspace

if TYPE_CHECKING:  # only for type hints: importing it would load llama.cpp
    from workbench.runtime.engine import Engine

EVAL_PARAMS = SamplingParams(temperature=0, seed=0, max_tokens=96, repeat_penalty=1.0)


def check_phrase(t: Task) -> str:
    """What the task's checks ask for, in words (checks.describe, one per check)."""
    return " and ".join(describe(c) for c in t.checks if c.kind != "judge") or describe(t.checks[0])


def rule_from_task(t: Task) -> str:
    """A rule written from the failed task's own check, for when the model cannot phrase one."""
    return f"When asked something like “{t.query}”, {check_phrase(t)}."


def expected(t: Task) -> str:
    """What a right answer looks like, for the reflection prompt."""
    return t.ideal or check_phrase(t)


@dataclass
class Scored:
    query: str
    answer: str
    passed: bool


@dataclass
class Round:
    round: int
    train_failures: int
    lessons_added: list[str]
    test_passed: int
    test_total: int
    prompt_tokens: int  # system prompt + example turns, what every question now costs
    run_id: int | None = None  # the evaluation run that measured test_passed

    @property
    def rate(self) -> float:
        return self.test_passed / self.test_total if self.test_total else 0.0


@dataclass
class LearnReport:
    model: str
    tasks: str
    n_train: int
    n_test: int
    baseline_passed: int
    baseline_prompt_tokens: int
    rounds: list[Round] = field(default_factory=list)
    pending_proposals: int = 0
    notes: list[str] = field(default_factory=list)
    baseline_run_id: int | None = None  # the evaluation run that measured baseline_passed

    @property
    def baseline_rate(self) -> float:
        return self.baseline_passed / self.n_test if self.n_test else 0.0

    def to_json(self) -> str:
        data = asdict(self)
        data["baseline_rate"] = self.baseline_rate
        for r, d in zip(self.rounds, data["rounds"]):
            d["rate"] = r.rate
        return json.dumps(data, indent=2, ensure_ascii=False)

    def to_markdown(self) -> str:
        lines = [f"# Learning report: {self.tasks}", "",
                 (f"Model: {self.model}. Train questions: {self.n_train}; test questions: "
                  f"{self.n_test} (lessons are learned from train failures only)."), "",
                 "| round | test pass rate | lessons added | prompt tokens |", "|---|---|---|---|",
                 (f"| before | {self.baseline_passed}/{self.n_test} ({self.baseline_rate:.0%}) | – | "
                  f"{self.baseline_prompt_tokens} |")]
        for r in self.rounds:
            lines.append(f"| {r.round} | {r.test_passed}/{r.test_total} ({r.rate:.0%}) | "
                         f"{len(r.lessons_added)} | {r.prompt_tokens} |")
        for r in self.rounds:
            if r.lessons_added:
                lines += ["", f"Lessons added in round {r.round}:"]
                lines += [f"- {l}" for l in r.lessons_added]
        if self.pending_proposals:
            lines += ["", (f"{self.pending_proposals} proposals wait for review "
                           "(`workbench lessons proposals`).")]
        lines += [""] + [f"Note: {n}" for n in self.notes]
        return "\n".join(lines).rstrip() + "\n"


def split_tasks(tasks: list[Task], holdout: float | None, seed: int = 0) -> tuple[list[Task], list[Task]]:
    """The tasks' own splits, or a seeded random holdout fraction as the test split."""
    if holdout is None and any(t.split == "test" for t in tasks):
        return [t for t in tasks if t.split == "train"], [t for t in tasks if t.split == "test"]
    shuffled = tasks[:]
    random.Random(seed).shuffle(shuffled)
    n_test = max(1, round(len(tasks) * (holdout if holdout is not None else 0.5)))
    return shuffled[n_test:], shuffled[:n_test]


class Learner:
    """Args:
        ws: the workspace whose notebook learns; engine: a loaded model (the student); mode:
        generation mode; doc: the prompt document tasks are answered with; teacher,
        teacher_mode: another engine (e.g. a bigger model on a server) that reflects and
        phrases the lessons, or None for the student itself.
    """

    def __init__(self, ws: Workspace, engine: Engine, mode: str, doc: PromptDocument,
                 params: SamplingParams = EVAL_PARAMS, reflect_with_model: bool = True,
                 document_id: int | None = None, set_name: str = "", teacher=None,
                 teacher_mode: str | None = None):
        self.ws, self.engine, self.mode, self.doc = ws, engine, mode, doc
        self.teacher, self.teacher_mode = teacher or engine, teacher_mode or mode
        self.params, self.reflect_with_model = params, reflect_with_model
        self.document_id, self.set_name = document_id, set_name
        self.proposals = ProposalStore(ws.db, ws.notebook)
        self.notes: list[str] = []
        self.last: EvalResult | None = None  # the latest evaluation run

    def evaluate(self, tasks: list[Task], keep: bool = False) -> EvalResult:
        """One evaluation run of the draft with the notebook as it is now (kept when keep)."""
        p = plan(self.ws, [Variant("draft", self.doc)], [self.engine.info], tasks,
                 seed=self.params.seed, mode=self.mode, overrides=asdict(self.params), kind="learn",
                 document_id=self.document_id, set_name=self.set_name)
        result = execute(p, lambda _path: self.engine)
        if keep:
            EvalStore(self.ws.db).save(result)
        return result

    def score(self, tasks: list[Task], keep: bool = False) -> list[Scored]:
        self.last = self.evaluate(tasks, keep)
        return [Scored(t.query, c.output, c.passed) for t, c in zip(tasks, self.last.cells[0])]

    def prompt_tokens(self) -> int:
        c = self.ws.compose(self.doc, [], self.engine)
        return c.total_tokens  # sections, pinned lessons with their demonstrations, examples

    def propose(self, t: Task, answer: str) -> Proposal:
        """One lesson for one failure: the model's rule when it writes a usable one,
        else a rule from the task's check; the demonstration is the ideal answer."""
        demo = (t.query, t.ideal) if t.ideal else None
        if self.reflect_with_model:
            r = reflect(self.teacher, self.teacher_mode, self.ws.notebook,
                        situation_from_failures([(t.query, answer, expected(t))]), demo)
            good = [p for p in r.proposals if p.verdict == "new"]
            if good:
                return good[0]
            self.notes.append(f"For “{t.query}” the model's proposals were not usable "
                              f"({r.why_unusable()}); the rule was written from the task's check.")
        rule = rule_from_task(t)
        verdict, related = judge(self.ws.notebook, rule)
        kinds = ", ".join(c.kind for c in t.checks)
        return Proposal(rule, f"failed the {kinds} check on a train question", verdict, related, demo)

    def learn(self, tasks: list[Task], rounds: int, auto_accept: bool, holdout: float | None,
              source: str = "tasks") -> LearnReport:
        train, test = split_tasks(tasks, holdout)
        base = self.score(test, keep=True)
        report = LearnReport(self.engine.info.name, source, len(train), len(test),
                             sum(s.passed for s in base), self.prompt_tokens(),
                             baseline_run_id=self.last.run_id)
        for n in range(1, rounds + 1):
            failures = [(t, s) for t, s in zip(train, self.score(train)) if not s.passed]
            # One lesson per convention that failed this round: the first failure of
            # each distinct check stands for its kind.
            seen, added = set(), []
            for t, s in failures:
                key = tuple((c.kind, json.dumps(c.value)) for c in t.checks)
                if key in seen:
                    continue
                seen.add(key)
                p = self.propose(t, s.answer)
                if not p.acceptable:
                    continue
                pid = self.proposals.add(p, "tasks")
                if p.verdict == "duplicate":
                    # Rewriting a lesson that exists would only churn the prompt; the
                    # user decides whether this phrasing is better.
                    self.notes.append(f"Round {n}: “{t.query}” still fails although lesson "
                                      f"#{p.related.id} covers it; proposal {pid} waits for review.")
                    continue
                if auto_accept:
                    added.append(self.proposals.accept(pid, pinned=True).text)
            moved = self.ws.notebook.enforce_budget(self.doc.lesson_budget, self.engine.count_tokens)
            if moved:
                self.notes.append(f"Round {n}: {len(moved)} pinned lessons over the "
                                  f"{self.doc.lesson_budget}-token budget became retrieved-only.")
            after = self.score(test, keep=True)
            report.rounds.append(Round(n, len(failures), added, sum(s.passed for s in after),
                                       len(test), self.prompt_tokens(), self.last.run_id))
        report.pending_proposals = len(self.proposals.pending())
        report.notes = self.notes
        return report
