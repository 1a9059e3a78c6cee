"""Pure rules of the CSV export: cells a spreadsheet would run as formulas are neutralised (OWASP CSV
injection), everything else is written exactly as the standard csv writer writes it."""

from __future__ import annotations

import csv
import io

import pytest

from rapport_consent.export.csv import HEADER, neutralised, rows_text


def restored(cell: str) -> str:
    """What an auditor does to get the hashed value back: drop one ``'`` from a cell that, past its
    leading quotes, starts with a formula character."""
    return cell[1:] if cell.lstrip("'").startswith(("=", "+", "-", "@", "\t", "\r")) else cell


@pytest.mark.parametrize(
    "value",
    ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1", "=", "-"],
)
def test_a_formula_start_gets_a_quote_in_front_and_is_otherwise_intact(value: str) -> None:
    assert neutralised(value) == "'" + value


@pytest.mark.parametrize(
    "value",
    ["", "moved", "changed my mind", "a=b", "1-2", "2030-01-01T00:00:00.000000Z", '{"a":"=x"}', "req-1", "'", "'ok"],
)
def test_a_safe_value_is_left_alone(value: str) -> None:
    assert neutralised(value) == value


@pytest.mark.parametrize("value", ["'=x", "''+x", "'@x"])
def test_quotes_in_front_of_a_formula_get_one_more_so_the_prefix_can_be_undone(value: str) -> None:
    """Without this, ``'=x`` (stored) and ``=x`` (stored) would both export as ``'=x``."""
    assert neutralised(value) == "'" + value
    assert restored(neutralised(value)) == value


@pytest.mark.parametrize("value", ["=x", "-1", "'=x", "moved", "'ok", "", "\t@x"])
def test_the_prefix_reverses_exactly(value: str) -> None:
    assert restored(neutralised(value)) == value


def test_rows_are_byte_identical_to_the_csv_writer_for_safe_values() -> None:
    entry = {"seq": 7, "action": "consent.revoked", "reason": 'moved, "far" away\nfor good', "request_id": "r-1"}
    plain = io.StringIO()
    csv.writer(plain, lineterminator="\r\n").writerow(
        ["" if entry.get(name) is None else str(entry[name]) for name in HEADER]
    )
    assert rows_text([entry]) == plain.getvalue()


def test_every_column_is_neutralised_not_only_the_reason() -> None:
    entry = {"seq": 1, "action": "consent.revoked", "actor_id": "@me", "reason": "+1", "request_id": "-2+3"}
    [row] = csv.DictReader(io.StringIO(",".join(HEADER) + "\r\n" + rows_text([entry])))
    assert (row["actor_id"], row["reason"], row["request_id"]) == ("'@me", "'+1", "'-2+3")
