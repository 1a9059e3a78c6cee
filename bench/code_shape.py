"""Code-shape figures of one or more source trees: the longest functions, repeated code, the test count.

    .venv/bin/python bench/code_shape.py TREE [TREE ...] [--label NAME ...] [--no-tests] [--top 15]

For each tree: every Python file git lists there (tracked, or untracked and not ignored; every ``.py`` below
it outside a checkout) is parsed with ``ast`` to measure each function (``def`` line to last line, nested
functions counted on their own as well); the ``duplicates`` command from the tool library is called on the
tree and its summary counted; ``python -m pytest --collect-only -q`` counts the tests, with the tree's own
``.venv/bin/python`` when it has one. "Production" is the installed packages' code: ``libs/*/src``,
``services/*/src`` and ``deploy/local/src``. Prints markdown: one summary table with a column per tree, then
the longest function of each module, the top ``--top`` of those, per tree.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

LONG = (50, 100)


@dataclass(frozen=True, slots=True)
class Function:
    path: str  # relative to the tree, POSIX separators
    name: str  # qualified: Class.method, outer.inner
    lines: int


@dataclass(frozen=True, slots=True)
class DuplicatePair:
    left: str
    right: str
    lines: int  # of the longest shared run the tool names for the pair


@dataclass(slots=True)
class Duplicates:
    available: bool = True
    pairs: int = 0
    files_read: int = 0
    shape_only: int = 0
    boilerplate: int = 0
    rows: list[DuplicatePair] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the tool's "left out:" / "incomplete:" lines


@dataclass(slots=True)
class Shape:
    label: str
    modules: int
    functions: list[Function]
    duplicates: Duplicates
    tests: int | None  # None: not collected (--no-tests, or the collection failed: see test_note)
    test_note: str = ""


def is_production(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return len(parts) > 2 and (
        (parts[0] in ("libs", "services") and parts[2] == "src") or parts[:3] == ("deploy", "local", "src")
    )


def python_files(tree: Path) -> list[str]:
    """The tree's Python files as the duplicates tool sees them: git's list in a checkout, else every file."""
    listed = subprocess.run(
        ["git", "-C", str(tree), "ls-files", "--cached", "--others", "--exclude-standard", "--", "*.py"],
        capture_output=True,
        text=True,
    )
    if listed.returncode == 0:
        names = {line for line in listed.stdout.splitlines() if line}
        return sorted(name for name in names if (tree / name).is_file())
    skip = {".venv", "node_modules", "__pycache__", ".git"}
    return sorted(
        p.relative_to(tree).as_posix() for p in tree.rglob("*.py") if not skip.intersection(p.relative_to(tree).parts)
    )


def functions_of(source: str, path: str) -> list[Function]:
    """Every function and method in ``source`` with its length in lines (decorators not counted)."""
    found: list[Function] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                found.append(Function(path, name, (child.end_lineno or child.lineno) - child.lineno + 1))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source, filename=path), "")
    return found


def longest_per_module(functions: Iterable[Function]) -> list[Function]:
    """The longest function of each module, longest first (ties by path)."""
    best: dict[str, Function] = {}
    for f in functions:
        if f.path not in best or f.lines > best[f.path].lines:
            best[f.path] = f
    return sorted(best.values(), key=lambda f: (-f.lines, f.path))


_SUMMARY = re.compile(r"^(\d+) pairs? of places \((\d+) files? read\)")
_NONE = re.compile(r"^no duplicates \((\d+) files? read\)")
_SHAPE = re.compile(r"(\d+) by shape alone")
_BOILERPLATE = re.compile(r"(\d+) of those marked boilerplate")
_ROW = re.compile(r"^D\d+ (\S+):(\d+)-(\d+) ~ (\S+):(\d+)-(\d+)")


def parse_duplicates(output: str) -> Duplicates:
    """Read the tool's summary line, its rows and its notes (format: /work/.library/duplicates/README.md)."""
    result = Duplicates()
    for line in output.splitlines():
        if m := _SUMMARY.match(line):
            result.pairs, result.files_read = int(m[1]), int(m[2])
            if s := _SHAPE.search(line):
                result.shape_only = int(s[1])
            if b := _BOILERPLATE.search(line):
                result.boilerplate = int(b[1])
        elif m := _NONE.match(line):
            result.files_read = int(m[1])
        elif m := _ROW.match(line):
            result.rows.append(DuplicatePair(m[1], m[4], int(m[3]) - int(m[2]) + 1))
        elif line.startswith(("left out:", "incomplete:")):
            result.notes.append(line)
    return result


def run_duplicates(tree: Path, *, seconds: int = 120) -> Duplicates:
    tool = shutil.which("duplicates")
    if tool is None:
        return Duplicates(available=False, notes=["the duplicates command is not on PATH"])
    # --most 200 (its maximum) so that the rows, not only the count, cover the tree
    out = subprocess.run(
        [tool, "--repo", str(tree), "--most", "200", "--seconds", str(seconds)], capture_output=True, text=True
    )
    return parse_duplicates(out.stdout)


_COLLECTED = re.compile(r"^(\d+) tests? collected")
_NO_TESTS = re.compile(r"^no tests collected")


def parse_collected(output: str) -> int | None:
    """The count from pytest's closing ``N tests collected in ...`` line (``-q``); None when there is none."""
    for line in reversed(output.splitlines()):
        if m := _COLLECTED.match(line.strip()):
            return int(m[1])
        if _NO_TESTS.match(line.strip()):
            return 0
    return None


def count_tests(tree: Path) -> tuple[int | None, str]:
    venv = tree / ".venv" / "bin" / "python"
    python = str(venv) if venv.exists() else sys.executable
    out = subprocess.run(
        [python, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=tree,
        capture_output=True,
        text=True,
    )
    count = parse_collected(out.stdout)
    errors = re.search(r"(\d+) errors?", out.stdout.splitlines()[-1] if out.stdout.strip() else "")
    if count is None:
        return None, f"collection failed (exit {out.returncode})"
    return count, f"{errors[1]} collection errors" if errors else ""


def measure(
    tree: Path,
    *,
    label: str,
    tests: bool = True,
    duplicates: Callable[[Path], Duplicates] = run_duplicates,
) -> Shape:
    functions: list[Function] = []
    files = python_files(tree)
    for name in files:
        try:
            functions += functions_of((tree / name).read_text(encoding="utf-8"), name)
        except (SyntaxError, UnicodeDecodeError):
            continue
    count, note = count_tests(tree) if tests else (None, "not collected (--no-tests)")
    return Shape(label, len(files), functions, duplicates(tree), count, note)


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def summary_rows(shape: Shape) -> dict[str, str]:
    prod = [f for f in shape.functions if is_production(f.path)]
    dup = shape.duplicates
    prod_pairs = [r for r in dup.rows if is_production(r.left) or is_production(r.right)]
    rows = {
        "Python modules": _n(shape.modules),
        "functions (all / production)": f"{len(shape.functions):,} / {len(prod):,}",
    }
    for limit in LONG:
        rows[f"functions over {limit} lines (all / production)"] = (
            f"{sum(f.lines > limit for f in shape.functions):,} / {sum(f.lines > limit for f in prod):,}"
        )
    longest = max(prod, key=lambda f: f.lines, default=None)
    rows["longest production function"] = f"{longest.lines} lines" if longest else "-"
    if dup.available:
        rows["duplicate pairs (files read)"] = f"{dup.pairs:,} ({dup.files_read:,})"
        rows["of those: by shape alone / boilerplate"] = f"{dup.shape_only:,} / {dup.boilerplate:,}"
        rows["pairs with a side in production code"] = f"{len(prod_pairs):,}"
        rows["lines in the longest run of each pair (all / production)"] = (
            f"{sum(r.lines for r in dup.rows):,} / {sum(r.lines for r in prod_pairs):,}"
        )
    else:
        rows["duplicate pairs"] = "n/a (duplicates not on PATH)"
    rows["tests collected"] = _n(shape.tests) + (f" ({shape.test_note})" if shape.test_note else "")
    return rows


def render(shapes: Sequence[Shape], *, top: int = 15) -> str:
    tables = [summary_rows(s) for s in shapes]
    lines = [
        "| measure | " + " | ".join(s.label for s in shapes) + " |",
        "|---|" + "---:|" * len(shapes),
    ]
    lines += [f"| {key} | " + " | ".join(t.get(key, "-") for t in tables) + " |" for key in tables[0]]
    for shape in shapes:
        lines += [
            "",
            f"Longest function per module, top {top} ({shape.label}):",
            "",
            "| file | function | lines |",
            "|---|---|---:|",
        ]
        lines += [f"| `{f.path}` | `{f.name}` | {f.lines} |" for f in longest_per_module(shape.functions)[:top]]
        for note in shape.duplicates.notes:
            lines += ["", f"duplicates ({shape.label}): {note}"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs="+", type=Path, help="source trees (a repo checkout or worktree)")
    parser.add_argument("--label", action="append", default=[], help="column name per tree (default: its path)")
    parser.add_argument("--no-tests", action="store_true", help="skip the pytest collection")
    parser.add_argument("--top", type=int, default=15, help="rows of the longest-function table")
    args = parser.parse_args(argv)
    labels = args.label + [str(t) for t in args.trees[len(args.label) :]]
    shapes = [
        measure(tree.resolve(), label=label, tests=not args.no_tests)
        for tree, label in zip(args.trees, labels, strict=False)
    ]
    print(render(shapes, top=args.top), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
