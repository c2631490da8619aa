"""Teaching by correction: an edited answer becomes a lesson's demonstration, with a rule that
the user writes or the model proposes. One flow for the CLI and the window."""

from workbench.errors import WorkbenchError
from workbench.notebook.proposals import ProposalStore
from workbench.notebook.reflection import Proposal, Reflection, judge, rule_problem


def proposed_rule(r: Reflection) -> tuple[str | None, str]:
    """The first usable rule the model proposed and how it was judged, or None and why not."""
    usable = [p for p in r.proposals if p.acceptable]
    if usable:
        return usable[0].rule, usable[0].describe()
    return None, r.why_unusable()


def teach(store: ProposalStore, question: str, rule: str, ideal: str,
          run_id: int | None = None, author: str = "user") -> int:
    """A proposal of `rule` with (question, ideal) as its demonstration; its id.
    author: who wrote the rule, "user" (typed it) or "model" (proposed it and the user kept it
    as it was). WorkbenchError when the rule is not one (empty, not a rule, a copy of the prompt)."""
    problem = rule_problem(rule)
    if problem:
        raise WorkbenchError(f"The rule is {problem}.")
    verdict, related = judge(store.notebook, rule)
    return store.add(Proposal(rule, "taught by a correction", verdict, related, (question, ideal)),
                     "correction", run_id, author=author)
