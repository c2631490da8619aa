"""Evaluation benchmark: cases per minute of the matrix runner against a naive loop, same run.

Two prompt variants that differ early (an edited first line, as prompt edits usually are) and
share a long body of guidelines, evaluated on the bundled set's questions with the default chat
model. The runner goes column by column, so each variant's prefix is processed once and the
KV cache serves every later case; the naive loop asks each case of every variant in turn
(for case: for variant), the way a first script does, and reprocesses the prefix each time.
Prints cases per minute, their ratio and the share of prompt tokens reused; asserts nothing.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.evals import runner
from workbench.evals.tasks import load_tasks
from workbench.prompt.document import Example, PromptDocument, Section
from workbench.resources import resource_path
from workbench.runtime.engine import Engine
from workbench.runtime.generation import stream
from workbench.runtime.models import default_model_path
from workbench.runtime.params import RunStats
from workbench.workspace import Workspace

N_CASES = int(os.environ.get("BENCH_CASES", "12"))  # the test suite runs it with a few
PARAMS = {"temperature": 0, "seed": 0, "max_tokens": 16, "repeat_penalty": 1.0}
GUIDELINES = "\n".join(f"- Guideline {i}: keep answers short, factual and in plain words; name units "
                       f"and sources where they matter (rule {i} of the house style)." for i in range(24))


def document(first_line: str, demos: bool) -> PromptDocument:
    doc = PromptDocument(name="bench", sections=[Section("role", first_line), Section("guidelines", GUIDELINES)],
                         params=dict(PARAMS))
    if demos:
        doc.examples = [Example("How far is it from Paris to Berlin?", "It is about 880 km from Paris to Berlin."),
                        Example("What is the capital of Spain?", "ANSWER: Madrid")]
    return doc


def naive(plan: runner.Plan, engine: Engine) -> tuple[float, int, int]:
    """for case: for variant: ask. Returns seconds, prompt tokens and reused tokens."""
    start, prompt, reused = time.perf_counter(), 0, 0
    for i in range(len(plan.cases)):
        for col in plan.columns:
            for item in stream(engine, col.mode, col.prompts[i], col.params):
                if isinstance(item, RunStats):
                    prompt, reused = prompt + item.prompt_tokens, reused + item.reused_tokens
    return time.perf_counter() - start, prompt, reused


def cold(engine: Engine) -> None:
    """Fill the cache with something unrelated, so each measurement starts cold."""
    for _ in stream(engine, "chat", [{"role": "user", "content": "Say one word."}],
                    runner.SamplingParams(temperature=0, max_tokens=2)):
        pass


def main() -> None:
    engine = Engine()
    engine.load(default_model_path("chat"))
    cases = load_tasks(resource_path("tasks", "house_conventions.jsonl"))[:N_CASES]
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "bench.db")
        variants = [runner.Variant("a", document("You are a careful travel and cooking assistant.", False)),
                    runner.Variant("b", document("You are a precise assistant for travel and food.", True))]
        plan = runner.plan(ws, variants, [engine.info], cases)
        cells = plan.total_cells
        cold(engine)
        naive_s, naive_prompt, naive_reused = naive(plan, engine)
        cold(engine)
        result = runner.execute(plan, lambda _path: engine)
        matrix_s = result.seconds
    print(f"{len(cases)} cases x {len(plan.columns)} variants = {cells} answers, "
          f"{PARAMS['max_tokens']} tokens each at most, {engine.info.name}")
    print(f"naive loop (for case: for variant): {naive_s:6.1f} s  {cells / naive_s * 60:6.1f} cases/min  "
          f"prompt tokens reused {naive_reused / naive_prompt:.0%}")
    print(f"evaluation runner (column by column): {matrix_s:6.1f} s  {cells / matrix_s * 60:6.1f} cases/min  "
          f"prompt tokens reused {result.reuse_share():.0%}")
    print(f"speed-up: {naive_s / matrix_s:.2f}x")
    for j in range(len(plan.columns)):
        s = result.column_stats(j)
        print(f"  column {s['label']}: {s['passed']}/{s['total']} passed")


if __name__ == "__main__":
    main()
