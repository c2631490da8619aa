"""Proposed lessons waiting for the user: accept, edit then accept, or reject.

A proposal records who wrote its rule (author: "user", "model" or "tasks") and, when learning
validated it on a task set, its evidence; accepting it adds the lesson with that source and
tallies the evidence (helpful: train questions it made pass; harmful: those it broke)."""

import json
from dataclasses import dataclass, field

from workbench.db import WorkbenchDatabase, get_row, now
from workbench.errors import WorkbenchError
from workbench.notebook.lessons import Lesson, Notebook
from workbench.notebook.reflection import Proposal, judge, rule_problem

# Who wrote a proposal's rule when the caller does not say: a reflection is the model's,
# a correction the user's (Teach with their own rule), a rule from a task set's checks "tasks".
AUTHOR_OF_ORIGIN = {"rating": "model", "correction": "user", "tasks": "tasks"}


@dataclass
class StoredProposal:
    id: int
    rule: str
    reason: str
    demo: tuple[str, str] | None
    origin: str  # "rating", "correction", "tasks"
    status: str  # "pending", "accepted", "rejected"
    verdict: str
    related_id: int | None
    lesson_id: int | None
    author: str = "model"  # who wrote the rule: "user", "model" or "tasks"
    evidence: dict = field(default_factory=dict)  # learning's figures (see evals.learn_report.Candidate)
    tags: list[str] = field(default_factory=list)


class ProposalStore:
    """Args:
        db: an open workbench database; notebook: where accepted lessons go.
    """

    def __init__(self, db: WorkbenchDatabase, notebook: Notebook):
        self.db, self.notebook = db, notebook

    def add(self, p: Proposal, origin: str, run_id: int | None = None, tags=(),
            author: str | None = None, evidence: dict | None = None) -> int:
        """Keep a proposal for review; returns its id."""
        if not p.acceptable:
            raise WorkbenchError(f"This proposal cannot be kept ({p.verdict}).")
        with self.db.atomic("proposed lesson"):
            return self.db["proposals"].insert({
                "rule": p.rule, "reason": p.reason, "tags": json.dumps(list(tags)),
                "demo_query": p.demo[0] if p.demo else None,
                "demo_answer": p.demo[1] if p.demo else None,
                "origin": origin, "run_id": run_id, "status": "pending", "verdict": p.verdict,
                "related_id": p.related.id if p.related else None, "lesson_id": None,
                "author": author or AUTHOR_OF_ORIGIN.get(origin, "model"),
                "evidence": json.dumps(evidence, ensure_ascii=False) if evidence else None,
                "created": now(), "decided": None}).last_pk

    def get(self, proposal_id: int) -> StoredProposal:
        r = get_row(self.db, "proposals", proposal_id, f"proposal {proposal_id}")
        demo = (r["demo_query"], r["demo_answer"]) if r["demo_query"] and r["demo_answer"] else None
        return StoredProposal(r["id"], r["rule"], r["reason"] or "", demo, r["origin"], r["status"],
                              r["verdict"], r["related_id"], r["lesson_id"],
                              r.get("author") or AUTHOR_OF_ORIGIN.get(r["origin"], "model"),
                              json.loads(r["evidence"]) if r.get("evidence") else {},
                              json.loads(r["tags"] or "[]"))

    def pending(self) -> list[StoredProposal]:
        rows = self.db["proposals"].rows_where("status = 'pending'", order_by="id")
        return [self.get(r["id"]) for r in rows]

    def accept(self, proposal_id: int, rule: str | None = None, pinned: bool | None = None) -> Lesson:
        """Into the notebook (as written, or as the user edited it: then the user is its author).

        A validated proposal (learning's, with evidence) does what was measured: a new lesson,
        an edit that replaces lesson related_id, or a merge; pinned by default as it was measured.
        Any other near duplicate is merged into the lesson it repeats, whose id stays; a
        conflict is added beside it. pinned: None keeps the measured placement (else pinned).
        """
        stored = self.get(proposal_id)
        text = (rule or stored.rule).strip()
        problem = rule_problem(text)
        if problem:
            raise WorkbenchError(f"The rule is {problem}; write it as “When …, …”.")
        author = "user" if rule is not None and rule.strip() != stored.rule.strip() else stored.author
        # Checked inside the write: another window may have decided it meanwhile.
        with self.db.atomic("accepted proposal"):
            p = self.get(proposal_id)
            if p.status != "pending":
                raise WorkbenchError(f"Proposal {proposal_id} was already {p.status}.")
            ev = p.evidence
            if pinned is None:
                pinned = ev.get("placement", "pinned") != "retrieved"
            reason = f"accepted proposal {proposal_id} ({p.origin}): {p.reason}".strip()
            if ev.get("action") == "merge" and len(ev.get("merge_ids") or []) == 2:
                keep, other = ev["merge_ids"]
                lesson = self.notebook.merge(keep, other, text=text, source=author, reason=reason)
            else:
                verdict, related = judge(self.notebook, text)
                lesson = self.notebook.add(text, tags=p.tags, pinned=pinned, source=author, force=True,
                                           demo=p.demo, reason=reason).lesson
                old = p.related_id if p.related_id and self._active(p.related_id) else None
                if ev.get("action") == "edit" and old:
                    # The new version takes the old one's place (and its tallies); the old retires.
                    lesson = self.notebook.merge(lesson.id, old, text=text, source=author,
                                                 reason=f"{reason} (replaces #{old})")
                elif not ev and verdict == "duplicate":
                    lesson = self.notebook.merge(related.id, lesson.id, text=text, source=author,
                                                 reason=reason)
            gained, lost = ev.get("gained") or [], ev.get("lost") or []
            if gained or lost:
                self.notebook.tally([lesson.id], helpful=len(gained), harmful=len(lost),
                                    run_id=None, reason=f"evaluation run {ev.get('run_id')}",
                                    source="tasks")
                lesson = self.notebook.get(lesson.id)
            self.db["proposals"].update(proposal_id, {"status": "accepted", "lesson_id": lesson.id,
                                                      "decided": now(), "author": author})
        return lesson

    def _active(self, lesson_id: int) -> bool:
        return bool(self.db["lessons"].count_where("id = ? and status = 'active'", [lesson_id]))

    def reject(self, proposal_id: int) -> None:
        """Decide against a pending proposal (it is kept, marked rejected)."""
        with self.db.atomic("rejection of the proposal"):
            p = self.get(proposal_id)
            if p.status != "pending":
                raise WorkbenchError(f"Proposal {proposal_id} was already {p.status}.")
            self.db["proposals"].update(proposal_id, {"status": "rejected", "decided": now()})

