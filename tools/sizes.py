#!/usr/bin/env python3
"""Fails when production Rust code outgrows the house limits: a file over 1,000
lines, or a function over 80 lines (from its `fn` line to its closing brace).

`make lint` runs it (`python3 tools/sizes.py`). Tests are left out: files named
`tests.rs` or `*_tests.rs`, files under a `tests/` directory, `test_support.rs`
and `testing.rs` (test helpers behind a `testing` feature),
and inline `#[cfg(test)] mod ... { }` blocks. `--list N` prints the N longest
functions instead (for reading). Comments and strings are blanked first, so a
brace in a string does not count.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import modcycles

MAX_FILE = 1000
MAX_FN = 80
# Known offenders (none now): listed here only with a reason, so no new one slips in.
ALLOWED: set[str] = set()
SKIP_DIRS = {"target", ".git", "fuzz", "node_modules"}
_FN = re.compile(r"^[ \t]*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(\w+)", re.M)
_TEST_MOD = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{")


def is_test_file(path: Path) -> bool:
    return (
        path.name in ("tests.rs", "test_support.rs", "testing.rs")
        or path.name.endswith("_tests.rs")
        or "tests" in path.parts[:-1]
    )


def closing(text: str, open_at: int) -> int:
    """The index of the brace closing the one at `open_at`."""
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(text) - 1


def test_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _TEST_MOD.finditer(text):
        spans.append((m.start(), closing(text, m.end() - 1)))
    return spans


def functions(text: str) -> list[tuple[str, int, int]]:
    """(name, first line, lines) of every function with a body outside test modules."""
    out = []
    tests = test_spans(text)
    for m in _FN.finditer(text):
        if any(a <= m.start() <= b for a, b in tests):
            continue
        brace = text.find("{", m.end())
        semi = text.find(";", m.end())
        if brace < 0 or (0 <= semi < brace):
            continue  # a declaration without a body (trait method)
        end = closing(text, brace)
        first = text.count("\n", 0, m.start()) + 1
        last = text.count("\n", 0, end) + 1
        out.append((m.group(1), first, last - first + 1))
    return out


def rust_files(root: Path):
    for path in sorted(root.rglob("*.rs")):
        if SKIP_DIRS.intersection(path.relative_to(root).parts):
            continue
        yield path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", type=int, metavar="N", help="print the N longest functions")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    problems, found = [], []
    for path in rust_files(root):
        if is_test_file(path):
            continue
        raw = path.read_text(encoding="utf-8")
        rel = path.relative_to(root)
        lines = raw.count("\n")
        if lines > MAX_FILE:
            problems.append(f"{rel}: {lines} lines (at most {MAX_FILE} outside tests)")
        for name, first, length in functions(modcycles.strip(raw)):
            found.append((length, f"{rel}:{first} {name}"))
            if length > MAX_FN and f"{rel} {name}" not in ALLOWED:
                problems.append(f"{rel}:{first}: fn {name} is {length} lines (at most {MAX_FN})")
    if args.list:
        for length, where in sorted(found, reverse=True)[: args.list]:
            print(f"{length:5} {where}")
        return 0
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} size problem(s): split the file or the function")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
