"""Proposed lessons waiting for the user: accept, edit then accept, or reject."""

import json
from dataclasses import dataclass

from workbench.db import WorkbenchDatabase, get_row, now
from workbench.errors import WorkbenchError
from workbench.notebook.lessons import Lesson, Notebook
from workbench.notebook.reflection import Proposal, judge, rule_problem


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


class ProposalStore:
    """Args:
        db: an open workbench database; notebook: where accepted lessons go.
    """

    def __init__(self, db: WorkbenchDatabase, notebook: Notebook):
        self.db, self.notebook = db, notebook

    def add(self, p: Proposal, origin: str, run_id: int | None = None, tags=()) -> int:
        """Keep a proposal for review; returns its id."""
        if not p.acceptable:
            raise WorkbenchError(f"This proposal cannot be kept ({p.verdict}).")
        with self.db.atomic("proposed lesson"):
            return self.db["proposals"].insert({
            "rule": p.rule, "reason": p.reason, "tags": json.dumps(list(tags)),
            "demo_query": p.demo[0] if p.demo else None, "demo_answer": p.demo[1] if p.demo else None,
            "origin": origin, "run_id": run_id, "status": "pending", "verdict": p.verdict,
            "related_id": p.related.id if p.related else None, "lesson_id": None,
                "created": now(), "decided": None}).last_pk

    def get(self, proposal_id: int) -> StoredProposal:
        r = get_row(self.db, "proposals", proposal_id, f"proposal {proposal_id}")
        demo = (r["demo_query"], r["demo_answer"]) if r["demo_query"] and r["demo_answer"] else None
        return StoredProposal(r["id"], r["rule"], r["reason"] or "", demo, r["origin"], r["status"],
                              r["verdict"], r["related_id"], r["lesson_id"])

    def pending(self) -> list[StoredProposal]:
        rows = self.db["proposals"].rows_where("status = 'pending'", order_by="id")
        return [self.get(r["id"]) for r in rows]

    def accept(self, proposal_id: int, rule: str | None = None, pinned: bool = True) -> Lesson:
        """Into the notebook (as written, or as the user edited it). A near duplicate is
        merged into the lesson it repeats, whose id stays; a conflict is added beside it."""
        text = (rule or self.get(proposal_id).rule).strip()
        problem = rule_problem(text)
        if problem:
            raise WorkbenchError(f"The rule is {problem}; write it as “When …, …”.")
        # Checked inside the write: another window may have decided it meanwhile.
        with self.db.atomic("accepted proposal"):
            p = self.get(proposal_id)
            if p.status != "pending":
                raise WorkbenchError(f"Proposal {proposal_id} was already {p.status}.")
            verdict, related = judge(self.notebook, text)
            reason = f"accepted proposal {proposal_id} ({p.origin}): {p.reason}".strip()
            lesson = self.notebook.add(text, pinned=pinned, source="model", force=True,
                                       demo=p.demo, reason=reason).lesson
            if verdict == "duplicate":
                lesson = self.notebook.merge(related.id, lesson.id, text=text, source="model",
                                             reason=reason)
            self.db["proposals"].update(proposal_id, {"status": "accepted", "lesson_id": lesson.id,
                                                      "decided": now()})
        return lesson

    def reject(self, proposal_id: int) -> None:
        """Decide against a pending proposal (it is kept, marked rejected)."""
        with self.db.atomic("rejection of the proposal"):
            p = self.get(proposal_id)
            if p.status != "pending":
                raise WorkbenchError(f"Proposal {proposal_id} was already {p.status}.")
            self.db["proposals"].update(proposal_id, {"status": "rejected", "decided": now()})
