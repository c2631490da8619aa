"""Learn from a task set: lessons per convention from failures on the train split, each kept only
on evidence, and the pass rate on the test split before and after each round.

Learning from the questions it is scored on would prove nothing, so lessons come only from train
failures and the pass rate is reported on test questions the lessons never saw. Each round:

1. the train split is answered with the notebook as learning has it so far;
2. its failures are grouped per convention (evals.conventions: the same checks); one candidate
   lesson per group names the situation in general words (the teacher phrases it when there is
   one and its rule passes the checks, else it is built from the group), its demonstration the
   one among the group's ideal answers that makes most of the group's failing questions pass
   (up to three tried, shortest first; ties: fewer tokens);
3. the candidate is validated (evals.validate): kept only if the train pass rate rises and no
   train question that passed before now fails; a group that still fails although a lesson
   covers it gets an edit of that lesson (another demonstration), never a second lesson.

Placement (pinned vs retrieved): a lesson is validated pinned while it fits what is left of the
document's lesson budget, which puts its demonstration in every prompt; one that does not fit is
validated retrieved (unpinned: Notebook.relevant finds it per question) and kept that way only
when that form helps. --placement pinned or retrieved forces one form.

Rounds stop when no candidate was kept. Kept candidates stay applied for the rest of the run
(every later trial re-applies them); with auto_accept they are written to the notebook at the end
of each round, else they become pending proposals with their evidence.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from workbench.evals.conventions import MAX_DEMOS, Convention, checks_in_words, group, rule_quotes
from workbench.evals.learn_report import Candidate, LearnReport, Round
from workbench.evals.results import EvalStore
from workbench.evals.runner import EvalResult, Variant, execute, plan
from workbench.evals.tasks import Task
from workbench.evals.validate import Validator
from workbench.notebook.lessons import Notebook
from workbench.notebook.proposals import ProposalStore
from workbench.notebook.reflection import Proposal, judge, reflect, rule_problem, situation_from_failures
from workbench.prompt.compose import LessonRef
from workbench.prompt.document import PromptDocument
from workbench.runtime.params import SamplingParams
from workbench.workspace import Workspace

if TYPE_CHECKING:  # only for type hints: importing it would load llama.cpp
    from workbench.runtime.engine import Engine

EVAL_PARAMS = SamplingParams(temperature=0, seed=0, max_tokens=96, repeat_penalty=1.0)
PLACEMENTS = ("auto", "pinned", "retrieved")
TEACHER_FAILURES = 3  # failures of a group shown to the teacher
GOOD_ENOUGH = 0.8  # a demonstration that makes this share of its group pass is not tried against others


def expected(t: Task) -> str:
    """What a right answer looks like, for the reflection prompt."""
    return t.ideal or checks_in_words(t.checks)


@dataclass
class Scored:
    query: str
    answer: str
    passed: bool


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
        teacher_mode: another engine (a larger local GGUF, a server) that phrases each
        convention's rule from its failures; without one the rules are built from the groups.
        reflect_with_model: False never asks the teacher. placement: "auto", "pinned" or
        "retrieved" (see the module's docstring).
    """

    def __init__(self, ws: Workspace, engine: Engine, mode: str, doc: PromptDocument,
                 params: SamplingParams = EVAL_PARAMS, reflect_with_model: bool = True,
                 document_id: int | None = None, set_name: str = "", teacher=None,
                 teacher_mode: str | None = None, placement: str = "auto"):
        if placement not in PLACEMENTS:
            raise ValueError(f"placement is one of {', '.join(PLACEMENTS)}")
        self.ws, self.engine, self.mode, self.doc = ws, engine, mode, doc
        self.teacher, self.teacher_mode = teacher, teacher_mode or mode
        self.params, self.reflect_with_model, self.placement = params, reflect_with_model, placement
        self.document_id, self.set_name = document_id, set_name
        self.proposals = ProposalStore(ws.db, ws.notebook)
        self.validator = Validator(ws, engine, mode, doc, params, document_id, set_name)
        self.notes: list[str] = []
        self.last: EvalResult | None = None  # the latest evaluation run
        self.applied: list[Candidate] = []  # validated, not written to the notebook (yet)
        self._progress = lambda d: None
        self._cancelled = lambda: False
        self._stopped = False
        self._merged: set[tuple[int, int]] = set()
        self._kept = 0  # candidates kept so far in this run
        self._tried: dict[str, set[str]] = {}  # convention -> demonstrations tried (their questions)
        self._rejected: dict[str, int] = {}  # convention -> candidates kept when its lesson was rejected

    # -- measuring --------------------------------------------------------------------------

    def _apply(self, nb: Notebook) -> None:
        for c in self.applied:
            c.change(nb)

    def evaluate(self, tasks: list[Task], keep: bool = False, stage: str = "") -> EvalResult:
        """One evaluation run of the draft with the notebook as learning has it (kept when keep)."""
        with self.ws.notebook.trial() as nb:
            self._apply(nb)
            p = plan(self.ws, [Variant("draft", self.doc)], [self.engine.info], tasks,
                     seed=self.params.seed, mode=self.mode, overrides=asdict(self.params), kind="learn",
                     document_id=self.document_id, set_name=self.set_name)

        def progress(d: dict) -> None:
            self._progress({"stage": stage or "evaluating", "done": d["done"], "total": d["total"]})

        result = execute(p, lambda _path: self.engine, progress, self._cancelled)
        if result.status == "cancelled":
            self._stopped = True
        if keep:
            EvalStore(self.ws.db).save(result)
        return result

    def score(self, tasks: list[Task], keep: bool = False, stage: str = "") -> list[Scored]:
        self.last = self.evaluate(tasks, keep, stage)
        return [Scored(t.query, c.output, c.passed) for t, c in zip(tasks, self.last.cells[0])]

    def prompt_tokens(self) -> int:
        """Sections, pinned lessons with their demonstrations, examples: what every question costs."""
        with self.ws.notebook.trial() as nb:
            self._apply(nb)
            return self.ws.compose(self.doc, [], self.engine).total_tokens

    def cost(self, rule: str, demo: tuple[str, str] | None) -> int:
        return LessonRef(0, rule, *(demo or (None, None))).cost(self.engine.count_tokens)

    # -- phrasing ---------------------------------------------------------------------------

    def phrase(self, conv: Convention, failures: list[tuple[Task, str]], train: list[Task]
               ) -> tuple[str, str]:
        """The rule for a convention and who wrote it: the teacher's, when it phrases one that
        passes the checks (a rule, new, about the convention rather than one question), else
        the rule built from the group ("tasks")."""
        built = conv.rule()
        if self.teacher is None or not self.reflect_with_model:
            return built, "tasks"
        shown = [(t.query, answer, expected(t)) for t, answer in failures[:TEACHER_FAILURES]]
        r = reflect(self.teacher, self.teacher_mode, self.ws.notebook, situation_from_failures(shown))
        refused = []
        for p in r.proposals:
            problem = p.verdict if p.verdict != "new" else (
                rule_problem(p.rule, questions=[t.query for t in train], allowed=conv.check_text,
                             answers=[t.ideal or "" for t in train]) or rule_quotes(p.rule, train, conv))
            if not problem:
                return p.rule, "model"
            refused.append(f"“{p.rule}”: {problem}")
        self.notes.append(f"For {conv.key} the teacher's rules were not usable "
                          f"({r.problem or '; '.join(refused) or 'none'}); the rule was built from the "
                          "group's questions and check.")
        return built, "tasks"

    # -- one candidate ----------------------------------------------------------------------

    def _placement(self, nb: Notebook, rule: str, demo, replaces: int | None) -> str:
        if self.placement != "auto":
            return self.placement
        used = sum(l.ref().cost(self.engine.count_tokens) for l in nb.pinned() if l.id != replaces)
        return "pinned" if used + self.cost(rule, demo) <= self.doc.lesson_budget else "retrieved"

    def _validate(self, cand: Candidate, train: list[Task], failing: list[int], passing: set[int],
                  demos: list) -> Candidate:
        """Choose the demonstration on the group's failing questions, then check every train
        question that passed before. Those two sets decide the rule exactly: a question that
        failed before and is outside the group cannot lower the pass rate, so it is not run."""
        tries: list[dict] = []
        chosen = None
        for demo in demos or [None]:
            t = self._measure(cand, train, failing, demo)
            if t is None:
                return cand
            tries.append(t)
            if t["won"] and t["won"] >= GOOD_ENOUGH * len(t["others"]):
                if not self._regressions(t, train, passing):
                    chosen = t
                    break
                if self._stopped:
                    return cand
        if chosen is None:
            # The best of the others that gained, checked for regressions in turn.
            for t in sorted(tries, key=lambda t: (-t["won"], t["tokens"])):
                if t["won"] and "lost" not in t and not self._regressions(t, train, passing):
                    chosen = t
                    break
                if self._stopped:
                    return cand
        best = max(tries, key=lambda t: (t["won"], "lost" in t, -t["tokens"]))
        if chosen is None and best["won"] and self.placement == "auto" and best["placement"] == "pinned":
            # Pinned, it reaches every question and broke some; retrieved, it reaches only the
            # questions it is relevant to. Kept that way when that form gains without a loss.
            t = self._measure(cand, train, failing, best["demo"], placement="retrieved")
            if t is None:
                return cand
            tries.append(t)
            if t["won"] and not self._regressions(t, train, passing):
                chosen = t
            if self._stopped:
                return cand
        t = chosen or best
        cand.demo, cand.prompt_tokens, cand.placement = t["demo"], t["tokens"], t["placement"]
        cand.measured = len(t["others"])
        gained = [i for i in failing if t["cells"][i].passed]
        lost = t.get("lost", [])
        cand.run_id = self.validator.save(t["plan"], t["cells"])
        cand.gained = [train[i].query for i in gained]
        cand.lost = [train[i].query for i in lost]
        cand.train_after = cand.train_before + len(gained) - len(lost)
        won, others, check = t["won"], t["others"], t.get("check", [])
        if not won:
            cand.decision = "rejected"
            cand.why = (f"made 0 of {len(others)} failing questions of its convention pass"
                        + (" (its demonstration's own question does not count)" if t["demo"] else ""))
        elif lost:
            cand.decision = "rejected"
            cand.why = (f"broke {len(lost)} question{'s' if len(lost) > 1 else ''} that passed: "
                        + ", ".join(f"“{q}”" for q in cand.lost) + " (checking stopped at the first)"
                        + (f"; so did every other demonstration that gained ({len(tries)} tried)"
                           if len(tries) > 1 else ""))
        else:
            cand.decision = "kept"
            cand.why = (f"made {won} of {len(others)} failing questions pass and broke none of the "
                        f"{len(check)} that passed"
                        + (f"; {len(passing) - len(check)} more are demonstrations' own questions, "
                           "not counted" if len(check) < len(passing) else ""))
        return cand

    def _measure(self, cand: Candidate, train: list[Task], failing: list[int], demo,
                 placement: str | None = None) -> dict | None:
        """The candidate with this demonstration (and placement, default: as decided) on its
        group's failing questions (None: cancelled)."""
        trial = Candidate(**{**asdict(cand), "demo": demo})

        def change(nb: Notebook) -> str:
            self._apply(nb)
            trial.placement = placement or self._placement(nb, trial.rule, trial.demo, trial.related_id)
            trial.change(nb)
            return trial.placement

        p, _tokens, placement = self.validator.prepare(train, change)
        # A demonstration's own question would pass by copying its answer: it is run (the
        # stored run is complete) but only the others count as evidence.
        others = [i for i in failing if not demo or train[i].query != demo[0]]
        own = [i for i in failing if i not in others]
        self._progress({"stage": f"round {cand.round}: trying a lesson for {cand.convention}",
                        "done": 0, "total": len(failing)})
        cells, stopped = self.validator.run(p, others + own, cancelled=self._cancelled)
        if stopped:
            self._stopped = True
            return None
        won = sum(cells[i].passed for i in others)
        tokens = self.cost(cand.rule, demo)
        cand.demo_tries.append({"query": demo[0] if demo else None, "passed": won, "of": len(others),
                                "tokens": tokens, "placement": placement})
        return {"demo": demo, "plan": p, "cells": cells, "won": won, "others": others,
                "tokens": tokens, "placement": placement}

    def _regressions(self, t: dict, train: list[Task], passing: set[int]) -> list[int]:
        """The train questions that passed before and fail with this try (checking stops at the
        first); kept in t with the questions checked."""
        # The questions of demonstrations in the prompt pass by copying their answers: they
        # are no evidence either way, so they are not checked.
        demo = t["demo"]
        shown = {c.demo[0] for c in self.applied if c.demo} | ({demo[0]} if demo else set())
        shown |= {l.demo_query for l in self.ws.notebook.lessons() if l.demo_query}
        check = [i for i in sorted(passing) if train[i].query not in shown]
        self._progress({"stage": "checking the train questions that passed", "done": 0,
                        "total": len(check)})
        more, stopped = self.validator.run(t["plan"], check, stop=lambda i, c: not c.passed,
                                           cancelled=self._cancelled)
        if stopped:
            self._stopped = True
        t["cells"].update(more)
        t["check"] = check
        t["lost"] = [i for i in check if i in more and not more[i].passed]
        return t["lost"] or ([-1] if stopped else [])

    def _merges(self, train: list[Task], passing: set[int], n: int, train_run_id: int | None
                ) -> list[Candidate]:
        """Merge candidates for near-duplicate active lessons: the older keeps its text, the
        other folds in. Kept when no train question that passed now fails (a merge gains
        nothing; it saves the tokens of the lesson folded in)."""
        out = []
        for other in self.ws.notebook.lessons():
            dup = self.ws.notebook.near_duplicate(other.text, exclude=other.id)
            if not dup or dup[0].id > other.id or (dup[0].id, other.id) in self._merged:
                continue
            keep = dup[0]
            self._merged.add((keep.id, other.id))  # tried once per run
            cand = Candidate(keep.text, keep.ref().demo, "", "merge",
                             "pinned" if keep.pinned or other.pinned else "retrieved", keep.source,
                             len(passing), len(passing), len(train), round=n, related_id=keep.id,
                             merge_ids=[keep.id, other.id], train_run_id=train_run_id,
                             prompt_tokens=-other.ref().cost(self.engine.count_tokens),
                             convention=f"merge of #{keep.id} and #{other.id}")
            p, _tokens, _ = self.validator.prepare(train, lambda nb, c=cand: (self._apply(nb), c.change(nb)))
            t = {"demo": cand.demo, "plan": p, "cells": {}}
            lost = self._regressions(t, train, passing)
            if self._stopped:
                break
            cand.run_id = self.validator.save(p, t["cells"])
            cand.lost = [train[i].query for i in t["lost"]]
            cand.train_after = cand.train_before - len(cand.lost)
            if lost:
                cand.decision = "rejected"
                cand.why = f"broke {len(cand.lost)} question that passed: “{cand.lost[0]}”"
            else:
                cand.decision = "kept"
                cand.why = (f"merged #{other.id} into #{keep.id}: saves {-cand.prompt_tokens} tokens and "
                            f"broke none of the {len(t['check'])} questions that passed")
            out.append(cand)
        return out

    def _covering(self, conv: Convention) -> tuple[Candidate | None, int | None]:
        """The candidate applied in this run, or the notebook's lesson, learned for conv."""
        for c in self.applied:
            if c.convention == conv.key:
                return c, None
        for lesson in self.ws.notebook.lessons():
            if conv.tag in lesson.tags:
                return None, lesson.id
        return None, None

    def _candidate(self, conv: Convention, train: list[Task], scored: list[Scored], passing: set[int],
                   n: int, train_run_id: int | None) -> Candidate | None:
        failing = [i for i in conv.indices if i not in passing]
        demos = conv.demos(self.engine.count_tokens)
        earlier, lesson_id = self._covering(conv)
        action, related = "new", None
        if earlier is not None or lesson_id is not None:
            # An edit tries the demonstrations not tried yet in this run (nor in use).
            used = earlier.demo if earlier else self._demo_of(lesson_id)
            tried = self._tried.get(conv.key, set())
            demos = [d for d in conv.demos(self.engine.count_tokens, limit=None)
                     if d != used and d[0] not in tried][:MAX_DEMOS]
            if not demos:
                self.notes.append(f"Round {n}: {len(failing)} questions of {conv.key} still fail, and "
                                  "every demonstration worth trying was tried.")
                return None
            action, related = "edit", lesson_id
        rule, author = self.phrase(conv, [(train[i], scored[i].answer) for i in failing], train)
        if earlier is not None:
            # An edit of a candidate not yet in the notebook replaces it in the trials.
            self.applied = [c for c in self.applied if c is not earlier]
        cand = Candidate(rule, None, conv.situation, action, "pinned", author, len(passing), len(passing),
                         len(train), round=n, related_id=related, convention=conv.key, tag=conv.tag,
                         train_run_id=train_run_id, topics=conv.topics)
        cand = self._validate(cand, train, failing, passing, demos)
        self._tried.setdefault(conv.key, set()).update(t["query"] for t in cand.demo_tries if t["query"])
        if earlier is not None and cand.decision != "kept":
            self.applied.append(earlier)  # the earlier version stays
        elif earlier is not None:
            earlier.decision, earlier.why = "replaced", f"replaced by an edit in round {n}"
        return cand

    def _demo_of(self, lesson_id: int | None):
        return self.ws.notebook.get(lesson_id).ref().demo if lesson_id is not None else None

    # -- the run ----------------------------------------------------------------------------

    def _write(self, kept: list[Candidate], report: LearnReport, auto_accept: bool) -> list[str]:
        """Kept candidates into the notebook (auto_accept) or into pending proposals, with their
        evidence. Returns the rules written."""
        written = []
        for c in kept:
            verdict, related = judge(self.ws.notebook, c.rule)  # how it reads beside the notebook
            if c.related_id:
                related = self.ws.notebook.get(c.related_id)
            reason = f"learned from {report.tasks}: {c.why}"
            c.proposal_id = self.proposals.add(Proposal(c.rule, reason, verdict, related, c.demo), "tasks",
                                               tags=c.tags(), author=c.author,
                                               evidence=c.evidence())
            if auto_accept:
                lesson = self.proposals.accept(c.proposal_id)
                c.lesson_id, c.decision = lesson.id, "accepted"
            else:
                c.decision = "proposed"
            written.append(c.rule)
        return written

    def learn(self, tasks: list[Task], rounds: int, auto_accept: bool, holdout: float | None,
              source: str = "tasks", progress=None, cancelled=lambda: False) -> LearnReport:
        """CONTRACT: progress(dict) gets {"stage": str (plain words), "done": int, "total": int}
        now and then; cancelled() is polled between cells and stops the run (the report says so).
        With auto_accept False, validated candidates become pending proposals with their figures
        (Candidate.decision "proposed"); rounds[].test_passed then measures them applied."""
        start = time.perf_counter()
        self._progress, self._cancelled, self._stopped = progress or (lambda d: None), cancelled, False
        train, test = split_tasks(tasks, holdout)
        base = self.score(test, keep=True, stage="measuring the test split before learning")
        report = LearnReport(self.engine.info.name, source, len(train), len(test),
                             sum(s.passed for s in base), self.prompt_tokens(),
                             baseline_run_id=self.last.run_id, placement=self.placement)
        for n in range(1, rounds + 1):
            if self._stopped:
                break
            scored = self.score(train, keep=True, stage=f"round {n}: answering the train split")
            train_run = self.last.run_id
            if self._stopped:
                break
            passing = {i for i, s in enumerate(scored) if s.passed}
            failures = len(train) - len(passing)
            kept = []
            for cand in self._merges(train, passing, n, train_run):
                report.candidates.append(cand)
                if cand.decision == "kept":
                    self.applied.append(cand)
                    kept.append(cand)
                    self._kept += 1
            for conv in group(train):
                if self._stopped:
                    break
                if all(i in passing for i in conv.indices):
                    continue
                if self._rejected.get(conv.key) == self._kept:
                    # Rejected when the notebook was as it is now: the same trial would say the same.
                    self.notes.append(f"Round {n}: {conv.key} was not tried again (its lesson was "
                                      "rejected and nothing was kept since).")
                    continue
                cand = self._candidate(conv, train, scored, passing, n, train_run)
                if cand is None or self._stopped:
                    continue
                report.candidates.append(cand)
                if cand.decision == "kept":
                    self.applied.append(cand)
                    kept.append(cand)
                    self._kept += 1
                    passing |= {i for i in conv.indices if train[i].query in cand.gained}
                else:
                    self._rejected[conv.key] = self._kept
            if self._stopped:
                break
            added: list[str] = []
            if auto_accept and kept:
                added = self._write(kept, report, auto_accept=True)
                self.applied = []  # in the notebook now
            after = self.score(test, keep=True, stage=f"round {n}: measuring the test split")
            if self._stopped:
                break
            report.rounds.append(Round(n, failures, added, sum(s.passed for s in after), len(test),
                                       self.prompt_tokens(), self.last.run_id))
            if not kept:
                self.notes.append(f"Round {n}: no candidate raised the train pass rate; learning stopped.")
                break
        if self._stopped:
            report.status = "cancelled"
            self.notes.append("Cancelled: nothing of this run was written to the notebook"
                              + (" after the last finished round." if report.rounds else "."))
        elif not auto_accept and self.applied:
            report.lessons_proposed = self._write(self.applied, report, auto_accept=False)
        report.pending_proposals = len(self.proposals.pending())
        report.notes = self.notes
        report.seconds = round(time.perf_counter() - start, 1)
        return report
