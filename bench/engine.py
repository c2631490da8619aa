"""Engine benchmark: decode speed vs a bare llama-cpp-python loop, and prefix-cache TTFT.

Prints ratios measured in the same run (the machines are shared and noisy);
asserts nothing about time.
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import llama_cpp  # noqa: E402  (the bare baseline; the package itself only uses it in engine.py)

from workbench.runtime.engine import Engine  # noqa: E402
from workbench.runtime.host import default_threads  # noqa: E402
from workbench.runtime.models import default_model_path  # noqa: E402
from workbench.runtime.params import LoadOptions, RunStats, SamplingParams

N_TOKENS = 256
ROUNDS = 8
PROMPT = "Once upon a time, in a small village by the sea,"


def tokens_per_s(llm: llama_cpp.Llama, stream) -> float:
    """Tokens decoded after the first one, per second of wall time, counted the same
    way for both sides: from the binding's own token counter."""
    llm.reset()  # same cold start for both
    n_prompt = len(llm.tokenize(PROMPT.encode()))
    first = None
    for _ in stream():
        if first is None:
            first = time.perf_counter()
            n_first = llm.n_tokens
    return (llm.n_tokens - n_first) / (time.perf_counter() - first) if llm.n_tokens > n_prompt else 0


def bare_decode_tps(llm: llama_cpp.Llama) -> float:
    """The plainest streaming loop the binding offers."""
    return tokens_per_s(llm, lambda: llm.create_completion(
        PROMPT, max_tokens=N_TOKENS, temperature=0, repeat_penalty=1.0, stream=True))


def workbench_decode_tps(engine: Engine) -> float:
    return tokens_per_s(engine._llm, lambda: (i for i in engine.stream_completion(
        PROMPT, SamplingParams(temperature=0, repeat_penalty=1.0, max_tokens=N_TOKENS))
        if not isinstance(i, RunStats)))


def ttft(engine: Engine, messages) -> float:
    items = list(engine.stream_chat(messages, SamplingParams(temperature=0, max_tokens=8)))
    return items[-1].time_to_first_token_s


def main() -> None:
    path = default_model_path("chat")
    threads = default_threads()
    engine = Engine()
    engine.load(path, LoadOptions(n_ctx=4096, n_threads=threads))
    # The baseline drives the very same Llama object, so weights, threads and
    # memory placement are identical and only the code path differs.
    bare = engine._llm
    ours, base = [], []
    for i in range(ROUNDS):  # interleaved, alternating who goes first, so noise hits both alike
        if i % 2:
            ours.append(workbench_decode_tps(engine))
            base.append(bare_decode_tps(bare))
        else:
            base.append(bare_decode_tps(bare))
            ours.append(workbench_decode_tps(engine))
    # Each round's pair ran back to back; the median of their ratios shrugs off
    # a round disturbed by another process better than a ratio of medians.
    ratios = sorted(o / b for o, b in zip(ours, base))
    print(f"decode: workbench {statistics.median(ours):.1f} tok/s, bare llama-cpp-python "
          f"{statistics.median(base):.1f} tok/s, paired ratio median {statistics.median(ratios):.3f} "
          f"(range {ratios[0]:.3f}-{ratios[-1]:.3f}; target >= 0.98)")

    rule = "When the user asks about {t}, answer in one short sentence and cite a source. "
    topics = ["rivers", "mountains", "cities", "birds", "stars", "trains", "bread", "music"]
    system = "".join(rule.format(t=topics[i % 8]) for i in range(125))
    turn1 = [{"role": "system", "content": system}, {"role": "user", "content": "Rivers?"}]
    turn2 = [*turn1, {"role": "assistant", "content": "The Nile is long."},
             {"role": "user", "content": "Birds?"}]
    engine._llm.reset()
    n_system = engine.count_chat_tokens(turn1)
    t1, t2 = ttft(engine, turn1), ttft(engine, turn2)
    print(f"time to first token with a {n_system:,}-token prompt: turn 1 {t1 * 1000:.0f} ms, "
          f"turn 2 {t2 * 1000:.0f} ms, ratio {t2 / t1:.3f} (target <= 0.05)")


if __name__ == "__main__":
    main()
