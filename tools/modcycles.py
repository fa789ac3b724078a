#!/usr/bin/env python3
"""Fails on an import cycle between the files (modules) of any crate of the workspace.

`make lint` runs it (`python3 tools/modcycles.py`). For every crate root of every
workspace member (its lib, bins, integration tests; read from each Cargo.toml, or
the conventional `src/lib.rs`, `src/main.rs`) it walks the `mod` declarations to
the module files, reads each file's paths (`use` trees and paths in code:
`crate::a::B`, `super::B`, `child::f`, or through a name a `use` brought in),
follows `use` re-exports to the module that defines the name, and draws one arrow
per (file, file named). A strongly connected set of two or more files is a cycle:
it is printed with the arrows that close it and the script exits 1.

What it does not do: it is not a Rust parser (macros are not expanded, an item
shadowing a module name is taken for the module), and glob imports
(`use super::*`) point at the module itself. Cycles between crates are cargo's
business (it refuses them). `--graph` prints every arrow instead (for reading).
Tests: `python3 tools/test_modcycles.py`.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

# --- stripping comments and literals (positions and newlines kept) ---------------

_CHAR = re.compile(r"'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'\n])'")
_RAW = re.compile(r'b?r(#*)"')


def strip(src: str) -> str:
    """`src` with comments, strings and char literals blanked (newlines kept)."""
    out = []
    i, n = 0, len(src)

    def blank(text: str) -> str:
        return "".join(c if c == "\n" else " " for c in text)

    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(blank(src[i:j]))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(src[i:j]))
            i = j
        elif (m := _RAW.match(src, i)) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            end = '"' + m.group(1)
            j = src.find(end, m.end())
            j = n if j < 0 else j + len(end)
            out.append(blank(src[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append(blank(src[i : j + 1]))
            i = j + 1
        elif c == "'" and (m := _CHAR.match(src, i)):
            out.append(blank(m.group(0)))
            i = m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


# --- use trees ---------------------------------------------------------------------


def use_paths(body: str) -> list[tuple[list[str], str | None]]:
    """The (path, name it binds) of each leaf of a `use` tree (`a::{b, c as d}`)."""
    body = re.sub(r"\s+", " ", body)
    out: list[tuple[list[str], str | None]] = []

    def walk(prefix: list[str], text: str) -> None:
        for part in split_top(text):
            part = part.strip()
            if not part:
                continue
            brace = part.find("{")
            if brace >= 0:
                head = [s.strip() for s in part[:brace].split("::") if s.strip()]
                walk(prefix + head, part[brace + 1 : part.rfind("}")])
                continue
            alias = None
            m = re.match(r"^(.*?)\s+as\s+(\w+)$", part)
            if m:
                part, alias = m.group(1), m.group(2)
            segs = [s.strip() for s in part.split("::") if s.strip()]
            if segs and segs[-1] == "self":
                segs = segs[:-1]
            full = prefix + segs
            if not full:
                continue
            if segs and segs[-1] == "*":
                out.append((full[:-1], None))
            else:
                out.append((full, alias if alias is not None else full[-1]))

    walk([], body)
    return out


def split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for c in text:
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if c == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return parts


# --- one crate root -----------------------------------------------------------------

_TOKENS = re.compile(
    r"(?P<attrpath>\#\[\s*path\s*=\s*)"
    r"|(?P<mod>\b(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+(?P<modname>[A-Za-z_]\w*)\s*(?P<modend>[;{]))"
    r"|(?P<use>\buse\s+(?P<usebody>[^;]*);)"
    r"|(?P<path>(?<![\w:])[A-Za-z_]\w*(?:\s*::\s*[A-Za-z_]\w*)+)"
    r"|(?P<open>\{)|(?P<close>\})"
)
_PATH_ATTR = re.compile(r'#\[\s*path\s*=\s*"([^"]+)"\s*\]\s*(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+(\w+)\s*;')


@dataclass
class Use:
    scope: tuple[str, ...]
    path: list[str]
    line: int
    file: Path


@dataclass
class Crate:
    name: str
    files: dict[tuple[str, ...], Path] = field(default_factory=dict)  # module -> file
    children: dict[tuple[str, ...], set[str]] = field(default_factory=dict)
    aliases: dict[tuple[str, ...], dict[str, list[str]]] = field(default_factory=dict)
    refs: list[Use] = field(default_factory=list)


def line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def load_crate(name: str, root: Path) -> Crate:
    crate = Crate(name)
    pending = [((), root)]
    while pending:
        module, path = pending.pop()
        if path in crate.files.values() or not path.is_file():
            continue
        crate.files[module] = path
        raw = path.read_text(encoding="utf-8")
        attr_paths = {m.group(2): m.group(1) for m in _PATH_ATTR.finditer(raw)}
        pending.extend(read_file(crate, module, path, strip(raw), attr_paths, root))
    return crate


def child_file(parent_file: Path, module: tuple[str, ...], name: str, is_root: bool) -> Path:
    directory = parent_file.parent
    if not is_root and parent_file.name != "mod.rs":
        directory = directory / parent_file.stem
    flat = directory / f"{name}.rs"
    return flat if flat.is_file() else directory / name / "mod.rs"


def read_file(crate, module, path, text, attr_paths, root):
    """Reads one file's module declarations and paths; returns the child files to read."""
    found = []
    stack: list[tuple[tuple[str, ...], int]] = [(module, -1)]  # inline module scopes
    depth = 0
    crate.children.setdefault(module, set())
    for m in _TOKENS.finditer(text):
        scope = stack[-1][0]
        if m.group("open"):
            depth += 1
        elif m.group("close"):
            depth -= 1
            if len(stack) > 1 and depth == stack[-1][1]:
                stack.pop()
        elif m.group("mod"):
            child = scope + (m.group("modname"),)
            crate.children.setdefault(scope, set()).add(m.group("modname"))
            crate.children.setdefault(child, set())
            if m.group("modend") == "{":
                stack.append((child, depth))
                depth += 1
                crate.files.setdefault(child, path)
            elif scope == module:
                given = attr_paths.get(m.group("modname"))
                if given:
                    base = path.parent if (path == root or path.name == "mod.rs") else path.parent / path.stem
                    found.append((child, base / given))
                else:
                    found.append((child, child_file(path, module, m.group("modname"), path == root)))
        elif m.group("use"):
            line = line_of(text, m.start())
            for full, alias in use_paths(m.group("usebody")):
                crate.refs.append(Use(scope, full, line, path))
                if alias and alias != "_":
                    crate.aliases.setdefault(scope, {})[alias] = full
        elif m.group("path"):
            segs = re.sub(r"\s+", "", m.group("path")).split("::")
            crate.refs.append(Use(scope, segs, line_of(text, m.start()), path))
    return found


# --- resolving paths to files ---------------------------------------------------------


def absolute(crate: Crate, scope: tuple[str, ...], segs: list[str], seen: int = 0):
    """`segs` as written in `scope`, as a path from the crate root (or None: outside)."""
    if not segs or seen > 16:
        return None
    head, rest = segs[0], segs[1:]
    if head == "crate":
        return list(rest)
    if head == "self":
        return list(scope) + rest
    if head == "super":
        base = list(scope)
        while segs and segs[0] == "super":
            if not base:
                return None
            base.pop()
            segs = segs[1:]
        return base + segs
    if head in crate.children.get(scope, ()):
        return list(scope) + segs
    alias = crate.aliases.get(scope, {}).get(head)
    if alias is None:
        return None
    target = absolute(crate, scope, alias, seen + 1)
    return None if target is None else target + rest


def defining_module(crate: Crate, path: list[str], seen: int = 0) -> tuple[str, ...] | None:
    """The module whose file defines what `path` (from the root) names, following `use`s."""
    k = len(path)
    while k >= 0 and tuple(path[:k]) not in crate.files:
        k -= 1
    if k < 0:
        return None
    module, rest = tuple(path[:k]), path[k:]
    if rest and seen < 16:
        target = crate.aliases.get(module, {}).get(rest[0])
        if target is not None:
            full = absolute(crate, module, target)
            if full is not None:
                found = defining_module(crate, full + rest[1:], seen + 1)
                if found is not None:
                    return found
    return module


@dataclass
class Arrow:
    source: tuple[str, ...]
    target: tuple[str, ...]
    names: set[str]
    line: int


def arrows(crate: Crate, strict: bool = False) -> dict[tuple, Arrow]:
    """One arrow per (module, module it names); a module is a file or an inline
    `mod x { .. }` (so a file's `mod tests { .. }` is apart from the file). Unless
    `strict`, a module naming one it lives inside (`super::Error` in a child,
    `crate::Error` from anywhere to lib.rs) draws none: a parent is its children's
    facade and owner, and that is no cycle between siblings."""
    out: dict[tuple, Arrow] = {}
    for ref in crate.refs:
        full = absolute(crate, ref.scope, ref.path)
        if full is None:
            continue
        module = defining_module(crate, full)
        if module is None or module == ref.scope:
            continue
        if not strict and ref.scope[: len(module)] == module:
            continue
        key = (ref.scope, module)
        arrow = out.setdefault(key, Arrow(ref.scope, module, set(), ref.line))
        arrow.names.add("::".join(ref.path))
    return out


def label(crate: Crate, module: tuple[str, ...], base: Path) -> str:
    """A module as a reader finds it: its file, plus `(mod x)` for an inline one."""
    file = crate.files[module]
    inline = [m for m in crate.files if crate.files[m] == file and len(m) < len(module)]
    text = rel(file, base)
    if inline and len(module) > min(len(m) for m in inline):
        outer = min(inline, key=len)
        text += " (mod " + "::".join(module[len(outer) :]) + ")"
    return text


# --- cycles -----------------------------------------------------------------------------


def components(nodes, edges) -> list[list]:
    """Tarjan's strongly connected components with two or more nodes."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    succ: dict = {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)

    def visit(v):
        work = [(v, iter(sorted(succ.get(v, []))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(succ.get(w, [])))))
                    advanced = True
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def one_cycle(component: list, edges) -> list:
    """A shortest cycle through the component's first file (breadth-first)."""
    members = set(component)
    start = component[0]
    prev = {start: None}
    queue = [start]
    while queue:
        nxt = []
        for v in queue:
            for a, b in sorted(edges):
                if a != v or b not in members:
                    continue
                if b == start:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return list(reversed(path)) + [start]
                if b not in prev:
                    prev[b] = v
                    nxt.append(b)
        queue = nxt
    return component


# --- the workspace ------------------------------------------------------------------------


def crate_roots(member: Path) -> list[tuple[str, Path]]:
    manifest = member / "Cargo.toml"
    data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    name = data.get("package", {}).get("name", member.name)
    roots = []
    lib = data.get("lib", {}).get("path", "src/lib.rs")
    roots.append((f"{name} (lib)", member / lib))
    bins = data.get("bin", [])
    for b in bins:
        roots.append((f"{name} (bin {b.get('name')})", member / b.get("path", "src/main.rs")))
    if not bins:
        roots.append((f"{name} (bin)", member / "src/main.rs"))
    for t in data.get("test", []):
        roots.append((f"{name} (test {t.get('name')})", member / t["path"]))
    tests_dir = member / "tests"
    if tests_dir.is_dir() and not data.get("test"):
        for t in sorted(tests_dir.glob("*.rs")):
            roots.append((f"{name} (test {t.stem})", t))
    return [(n, p) for n, p in roots if p.is_file()]


def workspace_members(root: Path) -> list[Path]:
    data = tomllib.loads((root / "Cargo.toml").read_text(encoding="utf-8"))
    members = data.get("workspace", {}).get("members", [])
    out = [root / m for m in members]
    for extra in data.get("workspace", {}).get("exclude", []):
        if (root / extra / "Cargo.toml").is_file():
            out.append(root / extra)
    return out


def check(members: list[Path], graph: bool, base: Path, strict: bool = False) -> int:
    failures = 0
    for member in members:
        for name, root in crate_roots(member):
            crate = load_crate(name, root)
            found = arrows(crate, strict)

            def show(m):
                return label(crate, m, base)

            if graph:
                for (a, b), arrow in sorted(found.items()):
                    print(f"{name}: {show(a)} -> {show(b)}: " + ", ".join(sorted(arrow.names)))
            for comp in components(set(crate.files), found.keys()):
                failures += 1
                cycle = one_cycle(comp, found.keys())
                print(f"import cycle in {name}: " + " -> ".join(show(m) for m in cycle))
                for a, b in zip(cycle, cycle[1:]):
                    arrow = found[(a, b)]
                    names = ", ".join(sorted(arrow.names))
                    print(f"  {rel(crate.files[a], base)}:{arrow.line} names {show(b)}: {names}")
                if len(comp) > len(cycle) - 1:
                    print("  (in the same knot: " + ", ".join(show(m) for m in comp) + ")")
    return failures


def rel(p: Path, base: Path) -> str:
    try:
        return str(p.relative_to(base))
    except ValueError:
        return str(p)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("members", nargs="*", type=Path, help="crate directories (default: the workspace's)")
    parser.add_argument("--graph", action="store_true", help="print every arrow")
    parser.add_argument("--strict", action="store_true", help="count arrows to a module's own parents too")
    args = parser.parse_args(argv)
    base = Path(__file__).resolve().parent.parent
    members = [m.resolve() for m in args.members] or workspace_members(base)
    failures = check(members, args.graph, base, args.strict)
    if failures:
        print(f"{failures} import cycle(s): move what both sides need into a module both can import")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
