"""Conventions: train cases grouped by what their checks ask for, each group's situation named in
general words (a pattern of its questions with “…” where they differ), and a rule built from the
group, never from one of its questions."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from workbench.evals.checks import describe, short
from workbench.evals.tasks import Task
from workbench.fts import STOPWORDS, words
from workbench.notebook.reflection import quotes_question, stem

_TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s,]")  # words and punctuation; commas would end a rule's situation
GAP = "…"
SAME_PHRASING = 0.5  # questions whose words match this well share a pattern
MAX_PATTERNS = 2  # a rule names at most this many phrasings of its situation
MAX_DEMOS = 3  # ideal answers tried as the demonstration
MAX_WORDS = 2  # shared words a rule names when its questions share no pattern
MAX_TOPICS = 6  # shared words its lesson is tagged with
# Words of questions that say nothing about what they are about.
VAGUE = frozenset(["did", "does", "done", "much", "many", "give", "tell", "please", "usually",
                   "roughly", "get", "got", "should", "some", "any", "one", "way", "good", "best",
                   "make", "makes", "write", "like", "also", "just"])


@dataclass
class Convention:
    """One group of train cases with the same checks, in the order of the set."""

    key: str  # the checks as text, e.g. "contains: km"
    tasks: list[Task] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)  # the tasks' positions in the train split

    @property
    def checks(self):
        return self.tasks[0].checks

    @property
    def tag(self) -> str:
        """The tag of the lessons learned for it (lets a later round find them)."""
        slug = re.sub(r"\W+", "-", " ".join(f"{c.kind} {c.value or ''}" for c in self.checks)).strip("-")
        return f"convention-{slug[:24].lower()}-{hashlib.sha1(self.key.encode()).hexdigest()[:6]}"

    @property
    def situation(self) -> str:
        return situation([t.query for t in self.tasks])

    @property
    def topics(self) -> list[str]:
        """Words at least two of its questions share: tags by which retrieval finds its lesson
        for questions worded unlike the rule (the index holds tags; the prompt does not)."""
        return shared_words([t.query for t in self.tasks], least=2, most=MAX_TOPICS)

    @property
    def action(self) -> str:
        """What the checks ask for, in words."""
        return checks_in_words(self.checks)

    @property
    def check_text(self) -> str:
        """The checks' own values: their words are the convention's, not one question's."""
        return " ".join(str(c.value) for c in self.checks if c.value is not None)

    def rule(self) -> str:
        """The rule built from the group: its situation in general words and the check in words."""
        return f"When asked {self.situation}, {self.action}."

    def demos(self, count_tokens: Callable[[str], int], limit: int | None = MAX_DEMOS) -> list[tuple[str, str]]:
        """Up to limit (question, ideal answer) pairs worth trying, the shortest first; an
        ideal that fails its own checks would demonstrate the wrong thing."""
        found = [(t.query, t.ideal) for t in self.tasks if t.ideal and
                 (any(c.kind == "judge" for c in t.checks) or t.passes(t.ideal))]
        found = list(dict.fromkeys(found))
        return sorted(found, key=lambda d: count_tokens(d[0]) + count_tokens(d[1]))[:limit]


def checks_in_words(checks) -> str:
    """What checks ask for, in words (checks.describe, one per check; a judge only when alone)."""
    return " and ".join(describe(c) for c in checks if c.kind != "judge") or describe(checks[0])


def convention_key(t: Task) -> str:
    return " and ".join(short(c) for c in t.checks)


def group(tasks: list[Task]) -> list[Convention]:
    """Tasks grouped by their checks (kind and value), groups in order of first appearance."""
    groups: dict[str, Convention] = {}
    for i, t in enumerate(tasks):
        g = groups.setdefault(convention_key(t), Convention(convention_key(t)))
        g.tasks.append(t)
        g.indices.append(i)
    return list(groups.values())


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _render(tokens: list[str]) -> str:
    out = ""
    for tok in tokens:
        glue = "" if not out or (not tok[0].isalnum() and tok != GAP) else " "
        out += glue + tok
    return out


def pattern(queries: list[str]) -> str | None:
    """The words every query shares, in the first one's order, with “…” for what differs;
    None when they share too little to say anything (fewer than two words, or no gap)."""
    ref = _tokens(queries[0])
    low = [t.lower() for t in ref]
    kept = [True] * len(ref)
    for q in queries[1:]:
        other = [t.lower() for t in _tokens(q)]
        matched = [False] * len(ref)
        for block in SequenceMatcher(None, low, other, autojunk=False).get_matching_blocks():
            for k in range(block.a, block.a + block.size):
                matched[k] = True
        kept = [a and b for a, b in zip(kept, matched)]
    out: list[str] = []
    for tok, keep in zip(ref, kept):
        if keep:
            out.append(tok)
        elif not out or out[-1] != GAP:
            out.append(GAP)
    if GAP not in out or sum(1 for t in out if t[0].isalnum()) < 2:
        return None
    return _render(out)


def phrasings(queries: list[str]) -> list[list[str]]:
    """Queries clustered by wording: each joins the first cluster whose first query it matches
    by SAME_PHRASING, largest clusters first."""
    clusters: list[list[str]] = []
    for q in queries:
        low = [t.lower() for t in _tokens(q)]
        for c in clusters:
            if SequenceMatcher(None, [t.lower() for t in _tokens(c[0])], low, autojunk=False).ratio() \
                    >= SAME_PHRASING:
                c.append(q)
                break
        else:
            clusters.append([q])
    return sorted(clusters, key=len, reverse=True)


def situation(queries: list[str]) -> str:
    """The group's situation in general words: the patterns of its phrasings asked at least
    twice (“How far is it from … to …?”) when they say something (a word that is not a
    stopword, or the pattern of half the group), else the words its questions share most."""
    found = []
    for c in phrasings(queries):
        p = pattern(c) if len(c) >= 2 else None
        if p and ({w.lower() for w in words(p)} - STOPWORDS or 2 * len(c) >= len(queries)):
            found.append(p)
    if found:
        return " or ".join(f"“{p}”" for p in found[:MAX_PATTERNS])
    shared = shared_words(queries)
    if shared:
        return "about " + " or ".join(f"“{w}”" for w in shared)
    return "a question like the example"


def shared_words(queries: list[str], least: float | None = None, most: int = 0) -> list[str]:
    """Up to most (default MAX_WORDS) words (by stem) found in at least least of the queries
    (default: two, and a third of them), commonest first, each in its commonest form."""
    stems: dict[str, list[str]] = {}
    for q in queries:
        seen = set()
        for w in words(q):
            low = w.lower()
            if low in STOPWORDS or low in VAGUE or len(low) < 3 or stem(low) in seen:
                continue
            seen.add(stem(low))
            stems.setdefault(stem(low), []).append(low)
    least = least or max(2, len(queries) / 3)
    ranked = sorted((forms for forms in stems.values() if len(forms) >= least), key=len, reverse=True)
    return [max(sorted(set(forms)), key=forms.count) for forms in ranked[:most or MAX_WORDS]]


def rule_quotes(rule: str, train: list[Task], conv: Convention) -> str:
    """Why the rule is about one train question rather than its convention, or ""."""
    return quotes_question(rule, [t.query for t in train], conv.check_text, [t.ideal or "" for t in train])
