"""Importing a large notebook: one transaction, linear time, progress shown, and near
duplicates (of the notebook and within the file) still skipped."""

import json
import random
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import run_cli
from workbench.db import open_db
from workbench.fts import STOPWORDS, words
from workbench.notebook.duplicates import DUPLICATE_THRESHOLD, similarity
from workbench.notebook.lessons import Notebook
from workbench.workspace import Workspace

SCALE = 20_000
# The target is "seconds"; the bound is generous for a slow shared machine.
BOUND_S = 60
TEMPLATES = [
    "When the user asks about {0} {1}, answer with {2}, {3} and {4} but never {5} {6} {7}.",
    "Always give {0} {1} before {2} in replies about {3}; {4}, {5}, {6} and {7} come last.",
    "If a question concerns {0} or {1}, quote {2} {3} first, then {4}, {5}, {6} and {7}.",
]


def generated(n: int, seed: int = 0) -> list[str]:
    """n lessons no two of which are near duplicates: each is mostly its own random words."""
    rng = random.Random(seed)
    vocab = sorted({"".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                            for _ in range(rng.randint(5, 9))) for _ in range(6000)})
    return [rng.choice(TEMPLATES).format(*rng.sample(vocab, 8)) for _ in range(n)]


def respelled(text: str, n_words: int) -> str:
    """The lesson with n_words of its longer words misspelled: its words differ, its letters
    barely (what similarity's character comparison is for)."""
    out, done = [], 0
    for w in text.split(" "):
        if done < n_words and len(w) > 6 and w.isalpha():
            w, done = w[:-2] + w[-1] + w[-2], done + 1
        out.append(w)
    return " ".join(out)


def test_twenty_thousand_lessons_import_in_seconds_with_progress_and_no_duplicates(
        tmp_path, workbench_home):
    lessons = generated(SCALE + 60)
    # Already in the notebook: 30 lessons, repeated in the file as a user would re-import.
    existing, fresh = lessons[:30], lessons[30:SCALE + 30]
    ws = Workspace.open(workbench_home / "workbench.db")
    for text in existing:
        ws.notebook.add(text)
    ws.db.close()
    batch = [{"text": t, "tags": ["bulk"]} for t in fresh]
    planted = (  # (original, its near duplicate)
        [(t, t.upper() + "!") for t in existing[:10]]  # the same words: a repeat
        + [(t, respelled(t, 1)) for t in existing[10:20]]  # one word respelled: word overlap
        + [(t, respelled(t, 4)) for t in existing[20:30]]  # four: only the letters tell
        + [(t, t.lower()) for t in fresh[:10]]  # and the same within the file itself
        + [(t, respelled(t, 1)) for t in fresh[100:110]]
        + [(t, respelled(t, 4)) for t in fresh[200:210]])
    for original, copy in planted:  # each is a near duplicate by the notebook's own measure
        assert copy != original and similarity(copy, original) >= DUPLICATE_THRESHOLD
    for i, (_, copy) in enumerate(planted):  # spread through the file, after the originals
        batch.insert(300 + i * (SCALE // len(planted)), {"text": copy})
    path = tmp_path / "lessons.json"
    path.write_text(json.dumps({"lessons": batch}))

    start = time.perf_counter()
    proc = run_cli("lessons", "import", str(path))
    took = time.perf_counter() - start
    assert took < BOUND_S, f"importing {len(batch)} lessons took {took:.1f} s"
    progress = [l for l in proc.stderr.splitlines() if "lessons checked" in l]
    assert progress[0].strip() == f"1,000 of {len(batch):,} lessons checked"
    assert progress[-1].strip() == f"{len(batch):,} of {len(batch):,} lessons checked"
    assert len(progress) == len(batch) // 1000 + 1
    assert f"Imported {SCALE} lessons" in proc.stderr

    ws = Workspace.open(workbench_home / "workbench.db")
    assert [l.text for l in ws.notebook.lessons(tag="bulk")] == fresh
    assert ws.db["lessons"].count == SCALE + 30
    assert ws.db["lesson_events"].count == SCALE + 30  # every added lesson has its history
    assert ws.notebook.search(fresh[-1])[0].lesson.text == fresh[-1]  # and is searchable


def test_markdown_import_reports_progress_to_its_caller(tmp_path):
    nb = Notebook(open_db(tmp_path / "wb.db"))
    texts = generated(2500, seed=1)
    calls = []
    added = nb.import_markdown("# Lessons\n\n" + "".join(f"- {t} #md\n" for t in texts),
                               progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1000, 2500), (2000, 2500), (2500, 2500)]
    assert [l.text for l in added] == texts and all(l.tags == ["md"] for l in added)


VOCAB = ["red", "green", "blue", "answer", "briefly", "metric", "units", "french", "always",
         "never", "the", "a", "when", "list", "number", "steps", "quote", "source"]
lesson_text = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=7).map(" ".join)


def _telling(text: str) -> set[str]:
    return {w.lower() for w in words(text)} - STOPWORDS


def _jaccard(a: str, b: str) -> float:
    wa, wb = ({w.lower() for w in words(t)} for t in (a, b))
    return len(wa & wb) / len(wa | wb)


@settings(max_examples=60, deadline=2000)
@given(existing=st.lists(lesson_text, max_size=6), batch=st.lists(lesson_text, max_size=12))
def test_import_skips_what_the_notebook_calls_duplicates_and_nothing_else(tmp_path_factory,
                                                                          existing, batch):
    """Against the brute-force rule, lesson by lesson: one skipped is a near duplicate
    (similarity) of an earlier one; one Jaccard-alike to an earlier one, sharing a telling
    word with it, is always skipped."""
    nb = Notebook(open_db(tmp_path_factory.mktemp("p") / "wb.db"))
    earlier = [l.text for l in nb.import_json(json.dumps([{"text": t} for t in existing]))]
    added = [l.text for l in nb.import_json(json.dumps([{"text": t} for t in batch]))]
    pending = iter(added)
    next_added = next(pending, None)
    for text in batch:
        if text == next_added:
            repeats = [e for e in earlier if _jaccard(text, e) >= DUPLICATE_THRESHOLD
                       and (_telling(text) & _telling(e) or _jaccard(text, e) == 1)]
            assert not repeats, f"{text!r} was added though it repeats {repeats[0]!r}"
            earlier.append(text)
            next_added = next(pending, None)
        else:
            assert any(similarity(text, e) >= DUPLICATE_THRESHOLD for e in earlier), \
                f"{text!r} was skipped though nothing earlier is like it"
    assert next_added is None
