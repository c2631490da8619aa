"""Prompt-cache benchmark: time to first token against a cold start, measured in the same run.

With a ~2,000-token system prompt on the default chat model: turn 2, alternating two variants,
the first answer of a new process (restored from the disk snapshot), and the first answer after
an edit that was warmed in the background; then the snapshot's size and load time, and whether
the restored answer equals the cold one (greedy). BENCH_CACHE_RULES sets the prompt's length
(125 rules, about 2,000 tokens). Prints ratios; asserts nothing about time.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.chat.runs import file_sha256  # noqa: E402
from workbench.runtime.engine import Engine  # noqa: E402
from workbench.runtime.generation import collect, stream  # noqa: E402
from workbench.runtime.models import default_model_path  # noqa: E402
from workbench.runtime.params import LoadOptions, SamplingParams  # noqa: E402
from workbench.runtime.prompt_cache import DiskCache  # noqa: E402
from workbench.runtime.warmup import warm  # noqa: E402

GREEDY = SamplingParams(temperature=0, seed=0, max_tokens=16, repeat_penalty=1.0)
TOPICS = ["rivers", "mountains", "cities", "birds", "stars", "trains", "bread", "music"]
QUESTION = "What is the capital of France?"


def system_prompt(lead: str) -> str:
    n = int(os.environ.get("BENCH_CACHE_RULES", "125"))
    rule = "When the user asks about {t}, answer in one short sentence and name a source. "
    return lead + "".join(rule.format(t=TOPICS[i % len(TOPICS)]) for i in range(n))


def turn(system: str, *turns: str) -> list[dict]:
    roles = ["user", "assistant"] * len(turns)
    return [{"role": "system", "content": system},
            *({"role": r, "content": t} for r, t in zip(roles, turns))]


def engine_with(folder: str) -> Engine:
    known: dict[str, str] = {}
    engine = Engine(DiskCache(folder, lambda p: known.setdefault(p, file_sha256(p)), max_bytes=1 << 32))
    engine.load(default_model_path("chat"), LoadOptions(n_ctx=4096))
    return engine


def ask(engine: Engine, messages: list[dict]):
    text, stats = collect(stream(engine, "chat", messages, GREEDY))
    return text, stats


def child(folder: str) -> None:
    """The new process: load the model, answer the same question, report."""
    engine = engine_with(folder)
    text, stats = ask(engine, turn(system_prompt("Variant A. "), QUESTION))
    print(json.dumps({"text": text, "ttft": stats.time_to_first_token_s, "reused": stats.reused_tokens,
                      "processed": stats.processed_tokens, "source": engine.last_prefill.source}))


def main() -> None:
    folder = tempfile.mkdtemp(prefix="bench-cache-")
    a, b = system_prompt("Variant A. "), system_prompt("Variant B. ")
    engine = engine_with(folder)
    cold_text, cold = ask(engine, turn(a, QUESTION))
    engine.disk.flush()
    base = cold.time_to_first_token_s
    print(f"cold: {cold.prompt_tokens:,}-token prompt, first token after {base * 1000:.0f} ms")

    def line(label: str, seconds: float, extra: str = "") -> None:
        print(f"{label}: {seconds * 1000:.0f} ms, ratio {seconds / base:.3f} of cold "
              f"(target <= 0.05){extra}")

    _, second = ask(engine, turn(a, QUESTION, cold_text, "And of Italy?"))
    line("turn 2", second.time_to_first_token_s, f"; {second.processed_tokens} tokens processed")

    ask(engine, turn(b, QUESTION))  # variant B's first, cold
    times, processed = [], []
    for i in range(4):
        _, stats = ask(engine, turn(b if i % 2 else a, f"Question {i}: and of Spain?"))
        times.append(stats.time_to_first_token_s)
        processed.append(stats.processed_tokens)
    line("alternating two variants (median of 4)", statistics.median(times),
         f"; {statistics.median(processed):.0f} tokens processed")

    engine.disk.flush()
    # The snapshot of variant A's system prompt: the one a new process restores.
    entry = max((e for e in engine.disk.entries() if e.n_tokens < cold.prompt_tokens),
                key=lambda e: e.n_tokens)
    started = time.perf_counter()
    snapshot = engine.disk.load(entry.path, entry.context)
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    engine._restore(engine._llm, snapshot)
    restore_s = time.perf_counter() - started
    print(f"snapshot: {entry.n_tokens:,} tokens, {entry.size / (1 << 20):.1f} MB; read and checked in "
          f"{read_s * 1000:.0f} ms, restored into the context in {restore_s * 1000:.0f} ms")

    proc = subprocess.run([sys.executable, __file__, "--child", folder], capture_output=True, text=True,
                          timeout=600, check=True)
    restored = json.loads(proc.stdout.strip().splitlines()[-1])
    line("first answer of a new process", restored["ttft"],
         f"; {restored['reused']:,} tokens from the {restored['source']} snapshot, "
         f"{restored['processed']} processed")
    same = "same" if restored["text"] == cold_text else "DIFFERENT"
    print(f"greedy answer restored vs cold: {same} ({restored['text']!r})")

    edited = system_prompt("Variant C, edited. ")
    result = warm(engine, "chat", turn(edited))
    _, after = ask(engine, turn(edited, QUESTION))
    line("first send after a warmed edit", after.time_to_first_token_s,
         f"; {after.processed_tokens} tokens processed (the warm-up did {result.processed:,} before)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
    else:
        main()
