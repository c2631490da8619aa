"""What learning reports: each lesson it tried with its evidence (Candidate), each round's test
figures (Round), and the whole run (LearnReport), as JSON or Markdown."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from workbench.notebook.lessons import Notebook


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
class Candidate:
    """A lesson tried during learning, with what it did on the train split (the evidence).

    CONTRACT (the window and the bench read these fields; add fields, do not rename).
    """

    rule: str
    demo: tuple[str, str] | None
    situation: str  # the convention in general words, e.g. "“What is the capital of …?”"
    action: str  # "new", "edit" (of related_id) or "merge"
    placement: str  # "pinned" or "retrieved"
    author: str  # who phrased the rule: "model" (the teacher) or "tasks" (built from the checks)
    train_before: int  # train cases passed without it (of train_total)
    train_after: int  # train cases passed with it
    train_total: int
    gained: list[str] = field(default_factory=list)  # train questions it made pass
    lost: list[str] = field(default_factory=list)  # train questions that passed before and now fail
    prompt_tokens: int = 0  # what it adds to every question's prompt (retrieved: when retrieved)
    # "accepted", "rejected" or "proposed" (validated, waits for the user); "kept": validated but
    # not written (the run was cancelled); "replaced": by an edit validated in a later round.
    decision: str = ""
    why: str = ""  # the decision in plain words, with the figures
    round: int = 0
    related_id: int | None = None
    proposal_id: int | None = None
    lesson_id: int | None = None
    run_id: int | None = None  # the evaluation run that measured train_after
    convention: str = ""  # the group's checks, e.g. "contains: km"
    tag: str = ""  # the tag its lesson carries (conventions.Convention.tag)
    measured: int = 0  # failing train questions it was tried on (its demonstration's own excluded)
    demo_tries: list[dict] = field(default_factory=list)  # {"query", "passed", "of", "tokens"}
    merge_ids: list[int] = field(default_factory=list)  # a merge: [kept lesson, lesson folded in]
    train_run_id: int | None = None  # the run that measured train_before
    topics: list[str] = field(default_factory=list)  # words its questions share: tags for retrieval

    def tags(self) -> list[str]:
        return ([self.tag] if self.tag else []) + self.topics

    def evidence(self) -> dict:
        """What a proposal keeps of it (proposals.evidence)."""
        return {k: getattr(self, k) for k in (
            "action", "placement", "train_before", "train_after", "train_total", "gained", "lost",
            "prompt_tokens", "run_id", "train_run_id", "round", "merge_ids", "convention")}

    def change(self, nb: Notebook) -> None:
        """Apply it to the notebook (inside a trial, or for real in a test)."""
        if self.action == "merge":
            nb.merge(*self.merge_ids, text=self.rule, source=self.author, reason="learning: merge")
            return
        if self.action == "edit" and self.related_id is not None:
            nb.retire(self.related_id, reason="learning: replaced by an edit", source=self.author)
        nb.add(self.rule, tags=self.tags(), pinned=self.placement == "pinned",
               source=self.author, force=True, demo=self.demo, reason="learning: candidate")


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
    candidates: list[Candidate] = field(default_factory=list)  # every lesson tried, with evidence
    status: str = "done"  # or "cancelled"
    seconds: float = 0.0
    placement: str = "auto"
    lessons_proposed: list[str] = field(default_factory=list)  # without auto_accept: pending, validated

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
        if self.candidates:
            lines += ["", "Candidates (each measured on the train split with vs without it):", "",
                      ("| round | lesson | action | placement | train before → after | gained | lost "
                       "| tokens | decision |"), "|---|---|---|---|---|---|---|---|---|"]
            for c in self.candidates:
                rule = c.rule.replace("|", "\\|")
                lines.append(f"| {c.round} | {rule} | {c.action} | {c.placement} | {c.train_before} → "
                             f"{c.train_after} of {c.train_total} | {len(c.gained)} | {len(c.lost)} | "
                             f"{c.prompt_tokens} | {c.decision}: {c.why} |")
        if self.pending_proposals:
            lines += ["", (f"{self.pending_proposals} proposals wait for review "
                           "(`workbench lessons proposals`).")]
        lines += [""] + [f"Note: {n}" for n in self.notes]
        return "\n".join(lines).rstrip() + "\n"
