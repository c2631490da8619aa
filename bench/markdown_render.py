"""Markdown benchmark: the time to render hostile 100 KB model outputs, against a normal 100 KB
Markdown document rendered in the same run.

Prints, for each input: render_markdown()'s time (cold cache; the issue's limit is 100 ms), how
much of the text came out as Markdown within that time and how much as typed by design (blocks
too hostile to convert); what the budget did not reach is shown as typed too, and the window
converts it a slice at a time; and the time to convert every block. Then the worst time and its
ratio to the normal document's. Baseline: Python-Markdown alone on the normal document (what the
window did before, on the GUI thread). Asserts nothing about time.
"""

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(text: str) -> tuple[float, float, float, float]:
    """(render_markdown seconds; shares of the text that came out as Markdown and as typed by
    design, within the budget; seconds to convert every block with no budget), all cold."""
    from workbench.chat.markdown import (
        BUDGET_S,
        block_html,
        clear_cache,
        iter_blocks,
        references,
        render_markdown,
    )

    clear_cache()
    start = time.perf_counter()
    render_markdown(text)
    seconds = time.perf_counter() - start
    clear_cache()  # the same walk again, counting what the budget reached
    refs, deadline, shares = references(text), time.perf_counter() + BUDGET_S, {True: 0, False: 0}
    for block in iter_blocks(text):
        ok = block_html(block, refs, deadline - time.perf_counter())[1]
        if ok is None:
            break
        shares[ok] += len(block.raw)
    clear_cache()
    start = time.perf_counter()
    for block in iter_blocks(text):
        block_html(block, refs)
    n = max(len(text), 1)
    return seconds, shares[True] / n, shares[False] / n, time.perf_counter() - start


def main() -> None:
    sys.path.insert(0, str(ROOT))
    import markdown as python_markdown

    from tests.chat.test_markdown_robust import PATHOLOGICAL, normal_document

    normal = normal_document()
    start = time.perf_counter()
    python_markdown.Markdown(extensions=["fenced_code", "codehilite", "tables", "sane_lists", "nl2br"],
                             extension_configs={"codehilite": {"noclasses": True}}).convert(normal)
    baseline = time.perf_counter() - start
    normal_s, *normal_rest = measure(normal)
    print(f"{'input (100 KB)':18s} {'render':>8s} {'Markdown':>9s} {'as typed':>9s} {'every block':>12s}")
    row = "{:18s} {:6.1f}ms {:9.0%} {:9.0%} {:10.1f}ms"
    print(row.format("normal document", normal_s * 1000, *normal_rest[:2], normal_rest[2] * 1000))
    worst_name, worst = "", 0.0
    for name, text in PATHOLOGICAL.items():
        seconds, markdown_share, typed_share, full = measure(text)
        print(row.format(name, seconds * 1000, markdown_share, typed_share, full * 1000))
        if seconds > worst:
            worst_name, worst = name, seconds
    print(f"worst render: {worst * 1000:.1f} ms ({worst_name}; limit 100 ms); normal 100 KB document "
          f"{normal_s * 1000:.1f} ms; ratio {worst / normal_s:.2f}")
    print(f"baseline: Python-Markdown alone on the normal document {baseline * 1000:.0f} ms "
          f"(every block here: {normal_rest[2] * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
