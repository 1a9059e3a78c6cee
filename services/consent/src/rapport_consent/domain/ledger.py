"""The ledger's hash chain: canonical serialisation, entry hashes and chain verification (pure).

Each entry's hash is ``sha256(canonical_json(entry without "hash"))``; the entry carries ``prev_hash`` (the
previous entry's hash, or :data:`GENESIS_HASH` for the first), so altering, removing or reordering any entry
breaks the chain at that point. Canonical JSON: keys sorted, no whitespace, UTF-8, timestamps as UTC
``YYYY-MM-DDTHH:MM:SS.ffffffZ``; only strings, integers, booleans, null, lists and objects (no floats).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

GENESIS_HASH = "0" * 64

#: what a ledger entry records: the consent facts, compliance reads, and the publication of a document
#: version. The database refuses any other (migration 003, ``ledger_entries_action_known``).
LedgerAction = Literal["consent.granted", "consent.revoked", "consent.expired", "compliance.read", "document.published"]
ACTIONS: tuple[str, ...] = get_args(LedgerAction)

#: the fields covered by an entry's hash, in the ledger table
HASHED_FIELDS = (
    "seq",
    "entry_id",
    "at",
    "actor_id",
    "actor_role",
    "action",
    "client_id",
    "scope",
    "consent_id",
    "channel",
    "reason",
    "request_id",
    "details",
    "prev_hash",
)


def canonical_time(value: datetime) -> str:
    """One spelling per instant (UTC, microseconds, ``Z``)."""
    if value.tzinfo is None:
        raise ValueError("ledger timestamps must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return canonical_time(value)
    if isinstance(value, float):
        raise TypeError("floats are not allowed in ledger entries (no canonical spelling)")
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def canonical_json(value: Any) -> bytes:
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(entry: Mapping[str, Any]) -> str:
    """The hash of one entry, over exactly :data:`HASHED_FIELDS`."""
    return hashlib.sha256(canonical_json({name: entry.get(name) for name in HASHED_FIELDS})).hexdigest()


def plain_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """Details as they will read back from the database (timestamps already canonical strings)."""
    return dict(_plain(details))


@dataclass(frozen=True)
class BrokenLink:
    seq: int
    entry_id: str
    reason: str  # "hash-mismatch" (entry altered), "prev-hash-mismatch" (entry removed or reordered), "sequence-gap"


@dataclass
class ChainWalk:
    """Incremental verifier: feed entries in ``seq`` order; stops at the first broken link."""

    checked: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    broken: BrokenLink | None = None

    def feed(self, entries: Iterable[Mapping[str, Any]]) -> bool:
        """Check ``entries``; False once a link is broken."""
        for entry in entries:
            if self.broken is not None:
                return False
            seq = int(entry["seq"])
            if seq != self.last_seq + 1:
                self.broken = BrokenLink(seq, str(entry["entry_id"]), "sequence-gap")
            elif entry["prev_hash"] != self.last_hash:
                self.broken = BrokenLink(seq, str(entry["entry_id"]), "prev-hash-mismatch")
            elif entry_hash(entry) != entry["hash"]:
                self.broken = BrokenLink(seq, str(entry["entry_id"]), "hash-mismatch")
            else:
                self.checked += 1
                self.last_seq = seq
                self.last_hash = str(entry["hash"])
        return self.broken is None
