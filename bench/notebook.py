"""Notebook benchmark: search latency over 100k lessons and composition time.

Prints absolute figures and ratios against baselines measured in the same run
(sqlite-utils' own table.search for search; tokenizing the final prompt once for
composition); asserts nothing about time.
"""

import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import os  # noqa: E402

from workbench.prompt.document import PromptDocument  # noqa: E402
from workbench.runtime.engine import Engine, LoadOptions  # noqa: E402
from workbench.runtime.models import default_model_path  # noqa: E402
from workbench.workspace import Workspace  # noqa: E402

# BENCH_LESSONS makes a quick run (the test suite checks the script still works).
N_LESSONS = int(os.environ.get("BENCH_LESSONS", 100_000))
N_QUERIES = 300 if N_LESSONS >= 100_000 else 20
random.seed(42)
TOPICS = [w.strip(",.") for w in (
    "list number table chart distance kilometre mile answer question code python error "
    "format markdown bullet summary tone polite brief detail example source citation date "
    "time currency euro dollar recipe temperature celsius unit metric name greeting closing "
    "apology refusal safety json yaml sql query search rank order sort filter tag language "
    "french english spanish translation poem story email letter report review").split()]
SYLLABLES = ["ka", "lo", "mi", "ren", "sto", "vi", "dra", "pel", "qu", "zan", "tor", "mes", "bri"]
# Real notebooks draw on thousands of words with a long tail (Zipf), not a few dozen.
VOCAB = TOPICS + sorted({"".join(random.choices(SYLLABLES, k=random.randint(2, 4)))
                         for _ in range(6000)})[:5000]
WEIGHTS = [1 / (rank + 1) ** 0.8 for rank in range(len(VOCAB))]


def pick(k: int) -> list[str]:
    return random.choices(VOCAB, weights=WEIGHTS, k=k)


def lesson_text() -> str:
    situation, action = " ".join(pick(random.randint(2, 4))), " ".join(pick(random.randint(3, 6)))
    return f"When the user asks about {situation}, {action}."


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def timed(fn, queries):
    out = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "bench.db")
        t = time.perf_counter()
        with ws.db.atomic():
            ws.db["lessons"].insert_all(
                ({"text": lesson_text(), "tags": json.dumps(pick(1)),
                  "source": "user", "status": "active", "pinned": int(i % 500 == 0),
                  "helpful": 0, "harmful": 0, "created": "", "updated": ""}
                 for i in range(N_LESSONS)), batch_size=5000)
        print(f"inserted {N_LESSONS:,} lessons in {time.perf_counter() - t:.1f} s")
        queries = [" ".join(pick(2)) for _ in range(N_QUERIES)]
        typing = [w[:4] for w in pick(N_QUERIES)]
        messages = [f"Could you help me with {' '.join(pick(3))} please?" for _ in range(N_QUERIES)]
        common = [TOPICS[0]] * 50  # the most frequent word: the worst case for ranking
        table = ws.db["lessons"]
        base = timed(lambda q: list(table.search(q, quote=True, limit=20)), queries)
        ours = timed(lambda q: ws.notebook.search(q, limit=20), queries)
        prefix = timed(lambda q: ws.notebook.search(q, limit=20), typing)
        relevant = timed(lambda q: ws.notebook.relevant(q, k=3), messages)
        worst = timed(lambda q: ws.notebook.search(q, limit=20), common)
        n_common = ws.db.execute("select count(*) from lessons_fts where lessons_fts match ?",
                                 [f'"{TOPICS[0]}"']).fetchone()[0]
        for name, xs in (("search (2 words)", ours), ("search as you type (4-letter prefix)", prefix),
                         ("retrieval for a message (any word)", relevant),
                         (f"worst case: one word in {n_common:,} lessons", worst)):
            print(f"{name}: p50 {percentile(xs, .5):.2f} ms, p95 {percentile(xs, .95):.2f} ms "
                  f"(target p95 <= 5 ms); vs sqlite-utils table.search p95 "
                  f"{percentile(base, .95):.2f} ms: ratio {percentile(xs, .95) / percentile(base, .95):.2f}")

        engine = Engine()
        engine.load(default_model_path("chat"), LoadOptions(n_ctx=8192))
        doc = PromptDocument.default()
        doc.set_section("guidelines", " ".join(f"Rule {i}: be clear." for i in range(80)))
        convo = [{"role": "user", "content": "How should I format a table of distances?"}]
        pinned = len(ws.notebook.pinned())
        comp = timed(lambda _: ws.compose(doc, convo, engine), range(100))
        final = ws.compose(doc, convo, engine)
        text = "\n".join(m["content"] for m in final.messages)
        tok = timed(lambda _: engine.tokenize(text), range(100))  # uncached
        print(f"composition ({pinned} pinned lessons, {final.total_tokens:,} tokens, retrieval "
              f"included): p50 {statistics.median(comp):.2f} ms, p95 {percentile(comp, .95):.2f} ms "
              f"(target <= 10 ms); vs tokenizing the result once {statistics.median(tok):.2f} ms: "
              f"ratio {statistics.median(comp) / statistics.median(tok):.1f}")
        engine.unload()


if __name__ == "__main__":
    main()
