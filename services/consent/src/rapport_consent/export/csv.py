"""The ledger as CSV: one row per entry, every hashed field plus the hash, in ``seq`` order.

Values are spelled as in the hash's canonical form (UTC timestamps, canonical JSON details), so an auditor
can recompute each entry's hash from its CSV row alone.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from rapport_consent.domain.ledger import HASHED_FIELDS, canonical_json, canonical_time

HEADER = (*HASHED_FIELDS, "hash")


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
    writer.writerows(rows)
    return buffer.getvalue()
