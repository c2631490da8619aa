"""The notebook of lessons: ID'd rules changed one at a time (add, edit, merge, retire), searchable.

No operation rewrites the notebook wholesale; every change is an event with the
lesson before and after, so history can be shown and changes undone.
"""

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields

from workbench.db import WorkbenchDatabase, get_row, now
from workbench.errors import ImportFormatError, WorkbenchError
from workbench.files import parse_json
from workbench.fts import MAX_ANY_TERMS, STOPWORDS, fts_query, words
from workbench.notebook.duplicates import DUPLICATE_THRESHOLD, DuplicateIndex, similarity
from workbench.prompt.compose import LessonRef

STATUSES = ("active", "retired")
SOURCES = ("user", "model", "tasks")  # who wrote it: the user, a model, or built from a test set
# Retrieval ranks lessons by the words of a message found in at most this many
# lessons (the rarest word is used when every word is commoner).
RARE_WORD_LESSONS = 2000
# A lesson is flagged for the user once it hurt at least this often (and more than it helped):
# one bad rating is an anecdote, not evidence.
FLAG_MIN_HARMFUL = 2
# Words that say what to do rather than what about ("write it as", "give it in"): a question
# sharing only these with a lesson is not about it (see relevant_among).
INSTRUCTION_WORDS = frozenset({
    "always", "answer", "ask", "asked", "asks", "begin", "end", "give", "include", "keep", "make",
    "never", "please", "put", "question", "reply", "respond", "say", "start", "tell", "use", "user",
    "write"})
# An import reports progress to its caller every this many lessons.
PROGRESS_EVERY = 1000
HIGHLIGHT = ("[", "]")


@dataclass
class Lesson:
    id: int
    text: str
    tags: list[str]
    source: str
    status: str
    pinned: bool
    helpful: int
    harmful: int
    run_id: int | None
    created: str
    updated: str
    demo_query: str | None = None
    demo_answer: str | None = None

    @classmethod
    def from_row(cls, row: dict) -> "Lesson":
        return cls(row["id"], row["text"], json.loads(row["tags"] or "[]"), row["source"],
                   row["status"], bool(row["pinned"]), row["helpful"] or 0, row["harmful"] or 0,
                   row["run_id"], row["created"], row["updated"], row.get("demo_query"),
                   row.get("demo_answer"))

    def ref(self) -> LessonRef:
        return LessonRef(self.id, self.text, self.demo_query, self.demo_answer)

    @property
    def flagged(self) -> bool:
        """Evidence says it hurts (harmful > helpful and harmful >= FLAG_MIN_HARMFUL): look at it."""
        return self.harmful > self.helpful and self.harmful >= FLAG_MIN_HARMFUL

    def to_dict(self) -> dict:
        """Every field, as export and history store it."""
        # Not dataclasses.asdict: its deep copy was a tenth of a large import's time.
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"tags": list(self.tags)}


@dataclass
class SearchHit:
    lesson: Lesson
    snippet: str  # the matching part, matches wrapped in HIGHLIGHT markers
    rank: float  # bm25: lower is better


@dataclass
class AddResult:
    lesson: Lesson | None  # None when a near duplicate stopped the add
    duplicate_of: Lesson | None = None
    similarity: float = 0.0


def _clean_tags(tags) -> list[str]:
    return sorted({t.strip().lstrip("#").replace(" ", "-") for t in tags if t and t.strip()})


class Notebook:
    """Args:
        db: an open workbench database.
    """

    def __init__(self, db: WorkbenchDatabase):
        self.db = db
        self._stemmer: sqlite3.Connection | None = None

    # -- reading -----------------------------------------------------------

    def get(self, lesson_id: int) -> Lesson:
        return Lesson.from_row(get_row(self.db, "lessons", lesson_id, f"lesson #{lesson_id}"))

    def lessons(self, status: str | None = "active", tag: str | None = None) -> list[Lesson]:
        where, args = self._filters(status, tag)
        rows = self.db.query(f"select * from lessons where {where} order by id", args)
        return [Lesson.from_row(r) for r in rows]

    @staticmethod
    def _filters(status, tag, table="lessons") -> tuple[str, list]:
        clauses, args = ["1"], []
        if status:
            clauses.append(f"{table}.status = ?")
            args.append(status)
        if tag:
            clauses.append(f"exists (select 1 from json_each({table}.tags) where value = ?)")
            args.append(tag.lstrip("#"))
        return " and ".join(clauses), args

    def search(self, query: str, status: str | None = "active", tag: str | None = None,
               limit: int = 20, any_word: bool = False) -> list[SearchHit]:
        """Full-text search, best first (bm25), with highlighted snippets. Any text a
        person can type is safe here: it is quoted, never parsed as FTS syntax."""
        q = fts_query(query, any_word=any_word)
        if not q:
            return []
        where, args = self._filters(status, tag)
        # Ordering by FTS5's own rank column (bm25) alone lets FTS5 stop after the
        # top rows; adding a second sort key made it 10x slower on 100k lessons.
        rows = self.db.query(f"""
            select lessons.*, snippet(lessons_fts, 0, ?, ?, '…', 16) as snippet,
                   lessons_fts.rank as rank
            from lessons_fts join lessons on lessons.rowid = lessons_fts.rowid
            where lessons_fts match ? and {where}
            order by lessons_fts.rank limit ?""", [*HIGHLIGHT, q, *args, limit])
        return [SearchHit(Lesson.from_row(r), r["snippet"], r["rank"]) for r in rows]

    def relevant(self, text: str, k: int) -> list[Lesson]:
        """Retrieved-only lessons (active, not pinned) most relevant to a message."""
        if k <= 0:
            return []
        hits = self.search(" ".join(self._telling_words(text)), any_word=True, limit=k * 4)
        return [h.lesson for h in hits if not h.lesson.pinned][:k]

    def relevant_among(self, text: str, lesson_ids) -> list[int]:
        """Of these lessons, those a message is about: sharing a telling word (see
        _telling_words) other than an instruction word with the rule, the tags or the
        demonstration's question, as retrieval matches them. Lessons not in the notebook any
        more are left out."""
        ids = sorted({int(i) for i in lesson_ids})
        about = [w for w in words(text) if w.lower() not in INSTRUCTION_WORDS]
        query = fts_query(" ".join(self._telling_words(" ".join(about))), any_word=True) if ids else ""
        if not query:
            return []
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(f"select rowid from lessons_fts where lessons_fts match ? "
                               f"and rowid in ({marks})", [query, *ids]).fetchall()
        return sorted(r[0] for r in rows)

    def _stems(self, found: list[str]) -> dict[int, str]:
        """Index of each word -> its stem, as the lessons index stems it (porter)."""
        if self._stemmer is None:
            # A private in-memory database: writing scratch rows in the user's
            # database would open transactions there.
            self._stemmer = sqlite3.connect(":memory:", check_same_thread=False)
            self._stemmer.execute("create virtual table q using fts5(x, tokenize='porter')")
            self._stemmer.execute("create virtual table qv using fts5vocab(q, 'instance')")
        with self._stemmer:
            self._stemmer.executemany("insert into q(rowid, x) values (?, ?)", list(enumerate(found)))
            stems = dict(self._stemmer.execute("select doc, term from qv").fetchall())
            self._stemmer.execute("delete from q")
        return stems

    def _telling_words(self, text: str) -> list[str]:
        """The message's words that can tell lessons apart: those in few lessons.

        bm25 scores every lesson an OR query matches, so a word found in tens of
        thousands of lessons costs tens of milliseconds and adds little to the
        ranking (its weight is low anyway). Words are stemmed by FTS5's own porter
        tokenizer, then looked up in the index's vocabulary.
        """
        found = [w for w in dict.fromkeys(words(text)) if w.lower() not in STOPWORDS][:MAX_ANY_TERMS]
        if not found:
            return []
        stems = self._stems(found)
        # Read-only, so it opens no transaction on the user's database.
        self.db.execute("create virtual table if not exists temp.lessons_vocab "
                        "using fts5vocab(main, lessons_fts, 'row')")
        marks = ",".join("?" * len(set(stems.values())))
        freq = dict(self.db.execute(f"select term, doc from temp.lessons_vocab where term in ({marks})",
                                    list(set(stems.values()))).fetchall())
        ranked = sorted((freq.get(stems.get(i), 0), w) for i, w in enumerate(found))
        present = [(df, w) for df, w in ranked if df > 0]
        telling = [w for df, w in present if df <= RARE_WORD_LESSONS]
        return telling or [w for _, w in present[:1]]

    def pinned(self) -> list[Lesson]:
        rows = self.db.query("select * from lessons where status = 'active' and pinned = 1 "
                             "order by id")
        return [Lesson.from_row(r) for r in rows]

    def near_duplicate(self, text: str, exclude: int | None = None) -> tuple[Lesson, float] | None:
        best = None
        for hit in self.search(text, any_word=True, limit=10):
            if hit.lesson.id == exclude:
                continue
            score = similarity(text, hit.lesson.text)
            if score >= DUPLICATE_THRESHOLD and (best is None or score > best[1]):
                best = (hit.lesson, score)
        return best

    def history(self, lesson_id: int) -> list[dict]:
        rows = self.db["lesson_events"].rows_where("lesson_id = ?", [lesson_id], order_by="id")
        return [{**r, "before": json.loads(r["before"]) if r["before"] else None,
                 "after": json.loads(r["after"]) if r["after"] else None} for r in rows]

    # -- the only ways a lesson changes ----------------------------------------

    @contextmanager
    def trial(self) -> Iterator["Notebook"]:
        """Changes made inside the block are seen by reads inside it, then all rolled back.

        Learning composes prompts with a candidate lesson this way (composition is fast;
        run the composed plan after the block): the write lock is held only meanwhile.
        """
        try:
            with self.db.atomic("trial of lessons"):
                yield self
                raise _Discard
        except _Discard:
            pass

    def _event(self, action: str, before: Lesson | None, after: Lesson | None, source: str,
               reason: str, run_id: int | None) -> None:
        lesson_id = (after or before).id
        self.db["lesson_events"].insert({
            "lesson_id": lesson_id, "action": action,
            "before": json.dumps(before.to_dict()) if before else None,
            "after": json.dumps(after.to_dict()) if after else None,
            "source": source, "reason": reason, "run_id": run_id, "created": now()})

    def add(self, text: str, tags=(), pinned: bool = False, source: str = "user",
            run_id: int | None = None, reason: str = "", force: bool = False,
            demo: tuple[str, str] | None = None) -> AddResult:
        """Add a lesson, unless it nearly duplicates one (then say which; force adds anyway).

        Args:
            demo: an optional demonstration, (question, ideal answer).
        """
        text = text.strip()
        if not text:
            raise WorkbenchError("A lesson needs some text.")
        if source not in SOURCES:
            raise WorkbenchError(f"A lesson's source is one of {', '.join(SOURCES)}.")
        # The check is inside the write so two writers cannot both add the same lesson.
        with self.db.atomic("lesson"):
            dup = None if force else self.near_duplicate(text)
            if dup:
                return AddResult(None, dup[0], dup[1])
            lid = self.db["lessons"].insert({
                "text": text, "tags": json.dumps(_clean_tags(tags)), "source": source,
                "status": "active", "pinned": int(pinned), "helpful": 0, "harmful": 0,
                "run_id": run_id, "created": now(), "updated": now(),
                "demo_query": demo[0] if demo else None,
                "demo_answer": demo[1] if demo else None}).last_pk
            lesson = self.get(lid)
            self._event("add", None, lesson, source, reason, run_id)
        return AddResult(lesson)

    def _update(self, lesson_id: int, action: str, changes: dict, source: str, reason: str,
                run_id: int | None = None) -> Lesson:
        with self.db.atomic(f"change to lesson #{lesson_id}"):
            before = self.get(lesson_id)
            self.db["lessons"].update(lesson_id, {**changes, "updated": now()})
            after = self.get(lesson_id)
            self._event(action, before, after, source, reason, run_id)
        return after

    def edit(self, lesson_id: int, text: str | None = None, tags=None, source: str = "user",
             reason: str = "") -> Lesson:
        changes = {}
        if text is not None:
            if not text.strip():
                raise WorkbenchError("A lesson needs some text; retire it instead of emptying it.")
            changes["text"] = text.strip()
        if tags is not None:
            changes["tags"] = json.dumps(_clean_tags(tags))
        return self._update(lesson_id, "edit", changes, source, reason)

    def set_pinned(self, lesson_id: int, pinned: bool, reason: str = "") -> Lesson:
        return self._update(lesson_id, "pin" if pinned else "unpin", {"pinned": int(pinned)},
                            "user", reason)

    def retire(self, lesson_id: int, reason: str = "", source: str = "user") -> Lesson:
        return self._update(lesson_id, "retire", {"status": "retired"}, source, reason)

    def reactivate(self, lesson_id: int, reason: str = "") -> Lesson:
        return self._update(lesson_id, "reactivate", {"status": "active"}, "user", reason)

    def merge(self, keep_id: int, other_id: int, text: str | None = None, source: str = "user",
              reason: str = "") -> Lesson:
        """Fold lesson other_id into keep_id: tags and tallies combine, the other retires."""
        if keep_id == other_id:
            raise WorkbenchError("A lesson cannot be merged with itself.")
        with self.db.atomic("merge of lessons"):
            keep, other = self.get(keep_id), self.get(other_id)
            merged = self._update(keep_id, "merge", {
                "text": (text or keep.text).strip(),
                "tags": json.dumps(_clean_tags(keep.tags + other.tags)),
                "pinned": int(keep.pinned or other.pinned),
                "helpful": keep.helpful + other.helpful, "harmful": keep.harmful + other.harmful,
            }, source, reason or f"merged with #{other_id}")
            self._update(other_id, "retire", {"status": "retired"}, source,
                         f"merged into #{keep_id}")
        return merged

    def tally(self, lesson_ids: list[int], helpful: int = 0, harmful: int = 0,
              run_id: int | None = None, reason: str = "rating", source: str = "user") -> None:
        """Count evidence for (or against) lessons: a rated answer they were relevant to, or
        an evaluation with vs without them (reason says which; source who produced it)."""
        with self.db.atomic("rating"):
            for lid in set(lesson_ids):
                if not self.db["lessons"].count_where("id = ?", [lid]):
                    continue  # a lesson deleted since: nothing to count
                lesson = self.get(lid)
                self._update(lid, "tally", {"helpful": max(0, lesson.helpful + helpful),
                                            "harmful": max(0, lesson.harmful + harmful)},
                             source, reason, run_id)

    def enforce_budget(self, budget: int, count_tokens) -> list[Lesson]:
        """When pinned lessons exceed the budget, the least helpful by measured help
        (helpful - harmful; the newest first among equals) become retrieved-only (still used
        when relevant). Returns the lessons moved, so the user sees them."""
        def cost(l: Lesson) -> int:
            return l.ref().cost(count_tokens)

        pinned = self.pinned()
        total = sum(cost(l) for l in pinned)
        if total <= budget:
            return []
        moved = []
        with self.db.atomic("pinned-lesson budget"):
            # Least helpful first; among equals the newest goes first (older lessons
            # have had more chances to prove themselves).
            for l in sorted(pinned, key=lambda l: (l.helpful - l.harmful, -l.id)):
                if total <= budget:
                    break
                moved.append(self._update(l.id, "demote", {"pinned": 0}, "user",
                                          f"pinned lessons exceeded the {budget}-token budget"))
                total -= cost(l)
        return moved

    def undo(self, event_id: int | None = None) -> Lesson:
        """Undo one change (default: the newest that is not itself undone); recorded as
        a change of its own, so history only grows."""
        if event_id is None:
            # An undo event keeps the id of the change it undid in its reason; tallies
            # come from ratings and are not undone from here.
            row = next(iter(self.db.query(
                "select id from lesson_events where action not in ('undo', 'tally') and id not in "
                "(select cast(reason as integer) from lesson_events where action = 'undo') "
                "order by id desc limit 1")), None)
            if row is None:
                raise WorkbenchError("There is nothing to undo.")
            event_id = row["id"]
        event = get_row(self.db, "lesson_events", event_id, f"change {event_id}")
        if event["action"] == "undo":
            raise WorkbenchError("An undo cannot itself be undone; make the change again instead.")
        before = json.loads(event["before"]) if event["before"] else None
        with self.db.atomic("undo"):
            if before is None:  # undoing an add: the lesson is retired, not erased
                changes = {"status": "retired"}
            else:
                changes = {k: before[k] for k in ("text", "status", "pinned", "helpful", "harmful",
                                                  "demo_query", "demo_answer") if k in before}
                changes["tags"] = json.dumps(before.get("tags", []))
                changes["pinned"] = int(changes.get("pinned", 0))
            return self._update(event["lesson_id"], "undo", changes, "user", str(event_id))

    def recent_events(self, limit: int = 30) -> list[dict]:
        rows = self.db.query("select * from lesson_events order by id desc limit ?", [limit])
        return [{**r, "after": json.loads(r["after"]) if r["after"] else None} for r in rows]

    # -- import and export -------------------------------------------------------

    def export_json(self, status: str | None = None) -> str:
        return json.dumps({"lessons": [l.to_dict() for l in self.lessons(status)]},
                          indent=2, ensure_ascii=False)

    def export_markdown(self, status: str | None = None) -> str:
        """One bullet per lesson: `- [pinned] text #tag`; retired ones struck through."""
        lines = ["# Lessons", ""]
        for l in self.lessons(status):
            body = l.text.replace("\n", "\n  ")
            if l.status == "retired":
                body = f"~~{body}~~"
            pin = "[pinned] " if l.pinned else ""
            tags = "".join(f" #{t}" for t in l.tags)
            lines.append(f"- {pin}{body}{tags}")
        return "\n".join(lines) + "\n"

    def import_json(self, text: str, progress: Callable[[int, int], None] | None = None
                    ) -> list[Lesson]:
        """Add the lessons of an export (see export_json), skipping near duplicates.

        Args:
            progress: called as progress(done, total) every PROGRESS_EVERY lessons.
        """
        data = parse_json(text, "The notebook file")  # deep or huge-number files too
        items = data.get("lessons") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ImportFormatError('Expected {"lessons": [...]} or a list of lessons.')
        parsed = [self._parse_item(i, item) for i, item in enumerate(items)]
        return self._import(parsed, progress)

    @staticmethod
    def _parse_item(i: int, item) -> dict:
        where = f"lessons[{i}]"
        if not isinstance(item, dict):
            raise ImportFormatError(f"{where} must be an object with a 'text' field.")
        text = item.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ImportFormatError(f"{where}.text must be non-empty text.")
        tags = item.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ImportFormatError(f"{where}.tags must be a list of strings.")
        status = item.get("status", "active")
        if status not in STATUSES:
            raise ImportFormatError(f"{where}.status must be one of {', '.join(STATUSES)}.")
        source = item.get("source", "user")
        if source not in SOURCES:
            raise ImportFormatError(f"{where}.source must be one of {', '.join(SOURCES)}.")
        counts = {}
        for key in ("helpful", "harmful"):
            value = item.get(key, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ImportFormatError(f"{where}.{key} must be a whole number of 0 or more.")
            counts[key] = value
        pinned = item.get("pinned", False)
        if not isinstance(pinned, bool):
            raise ImportFormatError(f"{where}.pinned must be true or false.")
        demo = {}
        for key in ("demo_query", "demo_answer"):
            value = item.get(key)
            if value is not None and not isinstance(value, str):
                raise ImportFormatError(f"{where}.{key} must be text.")
            demo[key] = value
        return {"text": text.strip(), "tags": tags, "status": status, "source": source,
                "pinned": pinned, **counts, **demo}

    def import_markdown(self, text: str, progress: Callable[[int, int], None] | None = None
                        ) -> list[Lesson]:
        """Add the bullets of a Markdown export (see export_markdown), skipping near duplicates."""
        entries: list[tuple[int, str]] = []  # (line number, raw bullet text with continuations)
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith("  ") and entries:
                entries[-1] = (entries[-1][0], entries[-1][1] + "\n" + line.strip())
            elif line.startswith("- "):
                entries.append((n, line[2:].strip()))
            else:
                raise ImportFormatError(
                    f"Line {n}: expected a lesson as '- text #tag', got {line[:60]!r}.")
        return self._import([self._parse_bullet(n, body) for n, body in entries], progress)

    @staticmethod
    def _parse_bullet(n: int, body: str) -> dict:
        pinned = body.startswith("[pinned] ")
        body = body.removeprefix("[pinned] ")
        tags: list[str] = []
        while True:  # trailing #tags, after the last line of the lesson
            head, sep, last = body.rpartition(" ")
            if not sep or not last.startswith("#") or len(last) < 2 or "\n" in last:
                break
            tags.insert(0, last[1:])
            body = head
        body = body.strip()
        status = "active"
        if body.startswith("~~") and body.endswith("~~") and len(body) > 4:
            body, status = body[2:-2].strip(), "retired"
        if not body:
            raise ImportFormatError(f"Line {n}: the lesson has no text.")
        return {"text": body, "tags": tags, "status": status, "source": "user",
                "pinned": pinned, "helpful": 0, "harmful": 0}

    def _import(self, parsed: list[dict], progress=None) -> list[Lesson]:
        """Write all or nothing, in one transaction; near duplicates of active lessons (in
        the notebook or earlier in the batch) are skipped. Linear in the batch size."""
        added, events, total = [], [], len(parsed)
        with self.db.atomic(f"import of {total} lessons"):
            index = DuplicateIndex()
            for row in self.db.query("select text from lessons where status = 'active'"):
                index.add(row["text"])
            for done, item in enumerate(parsed, start=1):
                if not index.find(item["text"]):
                    if item["status"] == "active":  # retired lessons are no duplicates' originals
                        index.add(item["text"])
                    stamp = now()
                    lid = self.db.execute(
                        "insert into lessons (text, tags, source, status, pinned, helpful, "
                        "harmful, run_id, created, updated, demo_query, demo_answer) "
                        "values (?, ?, ?, ?, ?, ?, ?, null, ?, ?, ?, ?)",
                        [item["text"], json.dumps(_clean_tags(item["tags"])), item["source"],
                         item["status"], int(item["pinned"]), item["helpful"], item["harmful"],
                         stamp, stamp, item.get("demo_query"), item.get("demo_answer")]).lastrowid
                    lesson = self.get(lid)
                    events.append({"lesson_id": lid, "action": "add", "before": None,
                                   "after": json.dumps(lesson.to_dict()),
                                   "source": item["source"], "reason": "imported",
                                   "run_id": None, "created": stamp})
                    added.append(lesson)
                if progress and (done % PROGRESS_EVERY == 0 or done == total):
                    progress(done, total)
            self.db["lesson_events"].insert_all(events)
        return added


class _Discard(Exception):
    """Ends a trial: its changes roll back."""
