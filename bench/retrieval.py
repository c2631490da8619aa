"""Retrieval at scale: 30+ conventions, all pinned vs retrieved per question, on the default model.

bench/data/many_conventions.jsonl holds 34 house conventions (weights in kg, dates as
YYYY-MM-DD, jokes that end 'Ba-dum-tss!', ...), each with one demonstration question and its
ideal answer (train) and three differently worded held-out questions (test);
bench/data/many_conventions.hand.json is the hand-written notebook, one general rule and one
demonstration per convention. Pinned, that notebook overflows the default lesson budget, so
this measures the test split, with the product's own planner and runner (evals.runner) and
greedy decoding, three ways:

  none       no notebook;
  pinned     every lesson pinned (the lesson budget raised so all fit);
  retrieved  no lesson pinned; the k most relevant retrieved for each question.

and prints pass rate and mean prompt tokens per question, the ratios of retrieved to pinned,
and whether the issue's target holds (>= 90% of the pinned pass rate at <= half its tokens).
It also says how often the question's own convention was among the retrieved lessons.
Asserts nothing.

    python bench/retrieval.py [--limit N] [--k 2] [--threads N] [--json] [--only retrieved]

--limit N takes the first N conventions (tests/test_bench_scripts.py runs it with 2); --only
retrieved measures that configuration alone (to try other k).

    python bench/retrieval.py --placement [--limit N]

measures instead where a retrieved lesson goes (prompt/compose.py): on the bundled set's held-out
questions, each given its convention's lesson as the retrieved one, the placement composition
uses now against the notes heading appended to the question (the placement before), with the
default chat model (SmolLM2, chat) and base model (Gemma 3, URIAL): answers passed, and answers
that repeat the heading or five words in a row of the rule.
"""

import argparse
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.evals import runner
from workbench.evals.tasks import load_tasks, task_from_data
from workbench.prompt.compose import RETRIEVED_HEADING, LessonRef, compose
from workbench.prompt.document import PromptDocument, Section
from workbench.resources import resource_path
from workbench.runtime.engine import Engine
from workbench.runtime.generation import choose_mode, stream
from workbench.runtime.models import default_model_path
from workbench.runtime.params import LoadOptions, SamplingParams
from workbench.workspace import Workspace

DATA = ROOT / "bench" / "data"
SET = DATA / "many_conventions.jsonl"
NOTEBOOK = DATA / "many_conventions.hand.json"
# Greedy, and long enough for an answer that ends with its convention's sign-off.
PARAMS = {"temperature": 0, "seed": 0, "max_tokens": 64, "repeat_penalty": 1.0}
ROLE = "You are a helpful assistant. Answer briefly."
TARGET_RATE, TARGET_TOKENS = 0.9, 0.5  # the issue: >= 90% of all-pinned's pass rate, <= half its tokens


def load(limit: int | None):
    """(test cases, their conventions, the notebook's lessons) for the first `limit` conventions."""
    rows = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    names = list(dict.fromkeys(r["convention"] for r in rows))[:limit]
    demos = {r["query"] for r in rows if r["split"] == "train" and r["convention"] in names}
    lessons = [item for item in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["lessons"]
               if item["demo_query"] in demos]
    tests = [r for r in rows if r["split"] == "test" and r["convention"] in names]
    cases = [task_from_data({k: v for k, v in r.items() if k != "convention"}, f"case {i}")
             for i, r in enumerate(tests)]
    demo_of = {r["convention"]: r["query"] for r in rows if r["split"] == "train"}
    return cases, [demo_of[r["convention"]] for r in tests], lessons, len(names)


def measure(ws: Workspace, engine: Engine, doc: PromptDocument, cases, pinned: bool | None,
            own_demo: list[str]) -> dict:
    """One configuration: pinned None (no notebook), True (all pinned) or False (all retrieved)."""
    nb = ws.notebook
    with nb.trial():  # the notebook's state for this plan only; rolled back after composing
        if pinned is None:
            nb.db.execute("update lessons set status = 'retired'")
        else:
            nb.db.execute("update lessons set pinned = ?", [int(pinned)])
        plan = runner.plan(ws, [runner.Variant("draft", doc)], [engine.info], cases,
                           overrides=dict(PARAMS))
        found = sum(any(m["role"] == "user" and m["content"].endswith("\n\n" + demo)
                        for m in prompt) for prompt, demo in zip(plan.columns[0].prompts, own_demo))
    start = time.perf_counter()
    result = runner.execute(plan, lambda _path: engine)
    stats = result.column_stats(0)
    n = stats["total"] or 1
    return {"passed": stats["passed"], "total": stats["total"], "rate": stats["rate"],
            "prompt_tokens": stats["prompt_tokens"] / n, "retrieval_hits": found,
            "seconds": round(time.perf_counter() - start, 1)}


# One general rule per convention of the bundled set, by its check's value.
BUNDLED_RULES = {"km": "When you give a distance, give it in km.",
                 "ANSWER:": "When you answer a factual question, start the answer with 'ANSWER:'.",
                 "Enjoy your meal!": "When you explain how to cook something, end with 'Enjoy your meal!'.",
                 ";[^\\n]*;": "When you name several things, separate them with semicolons."}


def echoed(answer: str, rule: str, n: int = 5) -> bool:
    """The answer repeats the notes heading, or n words in a row of the rule."""
    said = " ".join(re.findall(r"\w+", answer.lower()))
    rule_words = re.findall(r"\w+", rule.lower())
    return "notes from your notebook" in answer.lower() or any(
        " ".join(rule_words[i:i + n]) in said for i in range(len(rule_words) - n + 1))


def placement(limit: int | None) -> None:
    """Now vs before, on both default models (see the module's docstring)."""
    tasks = load_tasks(resource_path("tasks", "house_conventions.jsonl"))
    demo = {}
    for t in tasks:
        if t.split == "train":
            demo.setdefault(str(t.checks[0].value), (t.query, t.ideal))
    tests = [t for t in tasks if t.split == "test" and str(t.checks[0].value) in BUNDLED_RULES]
    tests = [t for i, t in enumerate(tests) if limit is None or i % 6 < limit]
    params = SamplingParams(temperature=0, seed=0, max_tokens=60, repeat_penalty=1.0)
    doc = PromptDocument(name="bench", sections=[Section("role", "You are a helpful assistant.")])
    print(f"{len(tests)} held-out questions of the bundled set, each with its convention's lesson "
          "retrieved; greedy, 60 tokens")
    for kind in ("chat", "base"):
        engine = Engine()
        engine.load(default_model_path(kind), LoadOptions(n_ctx=2048))
        mode = choose_mode(engine.info).name
        for name in ("notes heading after the question (before)", "composition now"):
            passed = repeated = 0
            for t in tests:
                key = str(t.checks[0].value)
                lesson = LessonRef(1, BUNDLED_RULES[key], *demo[key])
                question = [{"role": "user", "content": t.query}]
                if name.startswith("notes"):
                    messages = compose(doc, question, count_tokens=len, n_ctx=0).messages
                    messages[-1]["content"] += f"\n\n{RETRIEVED_HEADING}\n- {lesson.text}"
                else:
                    messages = compose(doc, question, retrieved=[lesson], count_tokens=len, n_ctx=0,
                                       mode=mode).messages
                answer = "".join(x for x in stream(engine, mode, messages, params) if isinstance(x, str))
                passed += all(v.passed for v in t.verdicts(answer.strip()))
                repeated += echoed(answer, lesson.text)
            print(f"{engine.info.name} ({mode}), {name}: passed {passed}/{len(tests)}, "
                  f"repeated the heading or the rule {repeated}/{len(tests)}", flush=True)
        engine.unload()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="only the first N conventions")
    ap.add_argument("--k", type=int, default=2, help="lessons retrieved per question (default 2)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON as well")
    ap.add_argument("--only", choices=["retrieved"], help="measure only this configuration")
    ap.add_argument("--placement", action="store_true",
                    help="measure where a retrieved lesson goes instead (see above)")
    args = ap.parse_args()
    if args.threads:
        os.environ["WORKBENCH_THREADS"] = str(args.threads)
    if args.placement:
        placement(args.limit)
        return
    cases, own_demo, lessons, n_conventions = load(args.limit)

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "bench.db")
        ws.notebook.import_json(json.dumps({"lessons": lessons}))
        assert len(ws.notebook.lessons()) == len(lessons), "a lesson was taken for a near duplicate"
        engine = Engine()
        engine.load(default_model_path("chat"), LoadOptions(n_ctx=8192))
        base = PromptDocument(name="bench", sections=[Section("role", ROLE)], params=dict(PARAMS))
        refs = [LessonRef(i, item["text"], item["demo_query"], item["demo_answer"])
                for i, item in enumerate(lessons)]
        cost = sum(r.cost(engine.count_tokens) for r in refs)
        print(f"{n_conventions} conventions, {len(cases)} held-out questions; the notebook pinned "
              f"costs {cost:,} tokens of lessons (default budget {base.lesson_budget:,}: "
              f"{'overflows' if cost > base.lesson_budget else 'fits'})", flush=True)
        rows = {}
        if not args.only:
            rows["none"] = measure(ws, engine, base, cases, None, own_demo)
            all_fit = replace(base, lesson_budget=max(cost + 1, base.lesson_budget))
            rows["pinned"] = measure(ws, engine, all_fit, cases, True, own_demo)
        rows[f"retrieved (k={args.k})"] = measure(ws, engine, replace(base, retrieval_k=args.k), cases,
                                                  False, own_demo)
        engine.unload()

    print(f"{'configuration':<16} {'passed':>9} {'rate':>6} {'prompt tokens/question':>23} {'seconds':>8}")
    for name, r in rows.items():
        print(f"{name:<16} {r['passed']:>4}/{r['total']:<4} {r['rate']:>6.0%} {r['prompt_tokens']:>23.0f} "
              f"{r['seconds']:>8.1f}")
    retrieved = rows[f"retrieved (k={args.k})"]
    print(f"retrieval found the question's own convention for {retrieved['retrieval_hits']}/"
          f"{retrieved['total']} questions")
    if args.only:
        return
    pinned = rows["pinned"]
    rate_ratio = retrieved["rate"] / pinned["rate"] if pinned["rate"] else float("nan")
    token_ratio = retrieved["prompt_tokens"] / pinned["prompt_tokens"]
    print(f"retrieved / pinned: pass rate {rate_ratio:.2f} (target >= {TARGET_RATE}), prompt tokens "
          f"{token_ratio:.2f} (target <= {TARGET_TOKENS}): target "
          f"{'met' if rate_ratio >= TARGET_RATE and token_ratio <= TARGET_TOKENS else 'not met'}")
    if args.json:
        print(json.dumps({"conventions": n_conventions, "k": args.k, "lesson_tokens_pinned": cost,
                          "rows": rows, "rate_ratio": rate_ratio, "token_ratio": token_ratio}))


if __name__ == "__main__":
    main()
