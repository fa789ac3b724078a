"""Writes a benchmark's results block into docs/PERFORMANCE.md, between its markers
(replacing the previous block), or appends it under `heading` the first time.
Skipped with BENCH_NO_DOC=1. Shared by bench/orchestration.py and bench/scale.py."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(begin, end, block, heading):
    """Puts `block` (which starts with `begin` and ends with `end`) into the doc."""
    if os.environ.get("BENCH_NO_DOC"):
        return
    doc = os.path.join(ROOT, "docs", "PERFORMANCE.md")
    with open(doc) as f:
        text = f.read()
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text += f"\n## {heading}\n\n" + block + "\n"
    with open(doc, "w") as f:
        f.write(text)
