"""The ledger as CSV: one row per entry, every hashed field plus the hash, in ``seq`` order.

Values are spelled as in the hash's canonical form (UTC timestamps, canonical JSON details), so an auditor
can recompute each entry's hash from its CSV row alone. Compliance opens the file in a spreadsheet, and some
cells are client text (a revoke ``reason``) or caller-chosen (``request_id``): a cell that would start a formula
gets a ``'`` in front (OWASP, CSV injection), every column alike. To rehash such a row, drop one leading ``'``
from each cell that, past its leading quotes, starts with ``= + - @``, a tab or a carriage return.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from rapport_consent.domain.ledger import HASHED_FIELDS, canonical_json, canonical_time

HEADER = (*HASHED_FIELDS, "hash")

#: a spreadsheet reads a cell starting with one of these as a formula (OWASP, CSV injection)
FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell: str) -> str:
    """``cell`` with a ``'`` in front if a spreadsheet would run it as a formula, else exactly as given.

    Quotes already in front of a formula start get one more too, so dropping one quote undoes the rule
    exactly (else stored ``'=x`` and stored ``=x`` would both export as ``'=x``)."""
    return "'" + cell if cell.lstrip("'").startswith(FORMULA_LEAD) else cell


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "at":
        return canonical_time(value)
    if name == "details":
        return canonical_json(json.loads(value) if isinstance(value, str) else value).decode("utf-8")
    return str(value)


def header_line() -> str:
    return _lines([HEADER])


def rows_text(entries: Iterable[dict[str, Any]]) -> str:
    return _lines([_cell(name, entry.get(name)) for name in HEADER] for entry in entries)


def _lines(rows: Iterable[Iterable[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([neutralised(cell) for cell in row] for row in rows)  # here, so no column is missed
    return buffer.getvalue()
