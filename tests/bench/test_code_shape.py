"""The code-shape script's pure parts: function lengths from ast, the duplicates and pytest outputs, the table."""

from __future__ import annotations

from pathlib import Path

from bench.code_shape import (
    Duplicates,
    Function,
    functions_of,
    is_production,
    longest_per_module,
    measure,
    parse_collected,
    parse_duplicates,
    render,
)

SOURCE = """\
import functools


def short():
    return 1


@functools.cache
def outer(x):
    def inner(y):
        return y

    return inner(x)


class Store:
    async def load(self):
        a = 1
        b = 2
        return a + b
"""

DUPLICATES = """\
3 pairs of places (12 files read), each sharing runs of 6 or more identical or same-shape lines \
(2 by shape alone, 1 of those marked boilerplate)
D1 services/a/src/rapport_a/x.py:10-24 ~ services/b/src/rapport_b/y.py:40-54
D2 tests/a/conftest.py:1-6 ~ tests/b/conftest.py:3-8 shape (+2 more runs)
D3 bench/p.py:5-12 ~ bench/q.py:5-12 shape boilerplate
left out: 5 runs of 6 lines that stand in more than 8 places each (too common to list)
"""


def test_function_lengths_are_def_line_to_last_line_with_qualified_names() -> None:
    found = {f.name: f.lines for f in functions_of(SOURCE, "m.py")}
    assert found == {"short": 2, "outer": 5, "outer.inner": 2, "Store.load": 4}


def test_longest_function_per_module_longest_first() -> None:
    functions = [Function("a.py", "f", 3), Function("a.py", "g", 9), Function("b.py", "h", 5), Function("c.py", "k", 9)]
    longest = longest_per_module(functions)
    assert longest == [Function("a.py", "g", 9), Function("c.py", "k", 9), Function("b.py", "h", 5)]


def test_production_is_the_installed_packages_source() -> None:
    assert is_production("libs/common/src/rapport_common/clock.py")
    assert is_production("services/session/src/rapport_session/app.py")
    assert is_production("deploy/local/src/rapport_local/launcher.py")
    for path in ("tests/session/conftest.py", "bench/code_shape.py", "deploy/docker/topic_init.py", "services/x.py"):
        assert not is_production(path), path


def test_duplicates_summary_rows_and_notes_are_read() -> None:
    result = parse_duplicates(DUPLICATES)
    assert (result.pairs, result.files_read, result.shape_only, result.boilerplate) == (3, 12, 2, 1)
    assert [r.lines for r in result.rows] == [15, 6, 8]
    assert result.rows[0].left == "services/a/src/rapport_a/x.py"
    assert result.notes == ["left out: 5 runs of 6 lines that stand in more than 8 places each (too common to list)"]
    none = parse_duplicates("no duplicates (4 files read)\n")
    assert (none.pairs, none.files_read, none.rows) == (0, 4, [])


def test_pytest_collection_count_is_read_from_its_closing_line() -> None:
    assert parse_collected("tests/a.py::test_x\n\n1546 tests collected in 6.19s\n") == 1546
    assert parse_collected("1 test collected in 0.1s") == 1
    assert parse_collected("12 tests collected, 2 errors in 3.0s") == 12
    assert parse_collected("no tests collected in 0.01s") == 0
    assert parse_collected("ImportError: boom") is None


def test_measure_and_render_a_small_tree(tmp_path: Path) -> None:
    package = tmp_path / "services" / "a" / "src" / "rapport_a"
    package.mkdir(parents=True)
    (package / "m.py").write_text(SOURCE)
    (tmp_path / "broken.py").write_text("def (:\n")  # a file that does not parse is passed over
    shape = measure(tmp_path, label="sample", tests=False, duplicates=lambda _tree: parse_duplicates(DUPLICATES))
    assert shape.modules == 2
    text = render([shape, shape], top=1)
    assert "| measure | sample | sample |" in text
    assert "| functions (all / production) | 4 / 4 | 4 / 4 |" in text
    assert "| pairs with a side in production code | 1 | 1 |" in text
    assert "| lines in the longest run of each pair (all / production) | 29 / 15 | 29 / 15 |" in text
    assert "| tests collected | - (not collected (--no-tests)) |" in text
    assert "| `services/a/src/rapport_a/m.py` | `outer` | 5 |" in text
    assert text.count("Longest function per module, top 1") == 2


def test_render_says_when_the_duplicates_tool_is_missing(tmp_path: Path) -> None:
    shape = measure(tmp_path, label="t", tests=False, duplicates=lambda _tree: Duplicates(available=False))
    assert "n/a (duplicates not on PATH)" in render([shape])
