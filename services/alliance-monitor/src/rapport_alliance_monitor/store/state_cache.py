"""The states this process last read or wrote, with their row versions, kept between transactions.

A batch still locks its clients and asks PostgreSQL for the current row versions, but a row whose version
is the one held here is neither sent nor parsed again. So the cache can never serve a stale state: a row
another writer changed (another instance after a partition moved, the hold job, a clinician resolving an
alert) has a new version and is read afresh. Entries are put in only with committed versions (a write is
remembered after its transaction commits), and the oldest-written entries go first when a kind is full.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

from rapport_alliance_monitor.domain import ClientState, ClinicianState, PairState
from rapport_alliance_monitor.store.states import PairKey, Versioned

K = TypeVar("K", str, PairKey)
S = TypeVar("S", ClientState, ClinicianState, PairState)


class _Bounded(Generic[K, S]):
    """A dict in write order; the oldest written entries are dropped beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.entries: dict[K, Versioned[S]] = {}

    def known(self, keys: Iterable[K]) -> dict[K, Versioned[S]]:
        entries = self.entries
        return {key: entry for key in keys if (entry := entries.get(key)) is not None}

    def remember(self, found: Mapping[K, Versioned[S]]) -> None:
        entries = self.entries
        for key, entry in found.items():
            entries.pop(key, None)  # re-inserted at the end: the newest
            entries[key] = entry
        excess = len(entries) - self.limit
        if excess > 0:
            for key in list(entries)[:excess]:
                del entries[key]

    def __len__(self) -> int:
        return len(self.entries)


class StateCache:
    def __init__(self, max_entries: int) -> None:
        """``max_entries`` per kind (clients, clinicians, pairs); 0 keeps nothing."""
        self.clients: _Bounded[str, ClientState] = _Bounded(max_entries)
        self.clinicians: _Bounded[str, ClinicianState] = _Bounded(max_entries)
        self.pairs: _Bounded[PairKey, PairState] = _Bounded(max_entries)

    def remember_written(
        self,
        clients: Mapping[str, Versioned[ClientState]],
        clinicians: Mapping[str, Versioned[ClinicianState]],
        pairs: Mapping[PairKey, Versioned[PairState]],
    ) -> None:
        """What a transaction wrote, once it has committed."""
        self.clients.remember(clients)
        self.clinicians.remember(clinicians)
        self.pairs.remember(pairs)

    def __len__(self) -> int:
        return len(self.clients) + len(self.clinicians) + len(self.pairs)
