#!/usr/bin/env python3
"""Checks tools/modcycles.py on small made-up crates: `python3 tools/test_modcycles.py`."""

import tempfile
import unittest
from pathlib import Path
import sys

sys.path.insert(0, str(Path(__file__).resolve().parent))

import modcycles  # noqa: E402 (run from tools/ or with tools/ on the path)


def crate(files: dict[str, str]) -> Path:
    root = Path(tempfile.mkdtemp())
    (root / "Cargo.toml").write_text('[package]\nname = "t"\n')
    for name, text in files.items():
        path = root / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def cycles(files: dict[str, str], strict: bool = False) -> list[list[str]]:
    root = crate(files)
    c = modcycles.load_crate("t", root / "src/lib.rs")
    found = modcycles.arrows(c, strict)
    return [["::".join(m) for m in comp] for comp in modcycles.components(set(c.files), found.keys())]


class ModCycles(unittest.TestCase):
    def test_two_siblings_that_import_each_other_are_a_cycle(self):
        got = cycles({
            "lib.rs": "mod a;\nmod b;\n",
            "a.rs": "use crate::b::B;\npub struct A;\n",
            "b.rs": "pub struct B;\nfn f() -> super::a::A { todo!() }\n",
        })
        self.assertEqual(got, [["a", "b"]])

    def test_a_chain_is_no_cycle(self):
        got = cycles({
            "lib.rs": "pub mod a;\npub mod b;\npub use a::A;\n",
            "a.rs": "use crate::b::{self, B};\npub struct A(B);\n",
            "b.rs": "pub struct B;\n",
        })
        self.assertEqual(got, [])

    def test_a_re_export_is_followed_to_the_defining_file(self):
        # b names A through the facade lib.rs; a names B: a cycle a <-> b.
        got = cycles({
            "lib.rs": "mod a;\nmod b;\npub use a::A;\n",
            "a.rs": "pub struct A(crate::b::B);\n",
            "b.rs": "pub struct B;\nimpl B { fn f(_: crate::A) {} }\n",
        })
        self.assertEqual(got, [["a", "b"]])

    def test_a_child_using_its_parent_counts_only_when_strict(self):
        files = {
            "lib.rs": "mod p;\n",
            "p/mod.rs": "mod c;\npub struct Shared;\nfn f() { c::g(); }\n",
            "p/c.rs": "use super::Shared;\npub fn g() {}\n",
        }
        self.assertEqual(cycles(files), [])
        self.assertEqual(cycles(files, strict=True), [["p", "p::c"]])

    def test_inline_test_modules_comments_and_strings_draw_nothing_for_the_file(self):
        got = cycles({
            "lib.rs": "mod a;\nmod b;\nmod support;\n",
            "a.rs": '// use crate::b;\nconst S: &str = "crate::b::B";\npub struct A;\n'
                    "#[cfg(test)]\nmod tests {\n    use crate::support::helper;\n}\n",
            "b.rs": "use crate::a::A;\n",
            "support.rs": "use crate::a::A;\npub fn helper() {}\n",
        })
        self.assertEqual(got, [])

    def test_use_trees_with_aliases_and_nesting(self):
        self.assertEqual(
            modcycles.use_paths("crate::a::{b::{C, D as E}, self}"),
            [(["crate", "a", "b", "C"], "C"), (["crate", "a", "b", "D"], "E"), (["crate", "a"], "a")],
        )


if __name__ == "__main__":
    unittest.main()
