"""The domain's state documents in jsonb rows: clients, clinicians and pairs, each with a row version.

Writers lock the clients they touch first (:func:`lock_clients`, a transaction-scoped advisory lock per
client id taken in sorted order), so the consumer, the hold job and the alert API never interleave their
read-modify-write of one client's rows, even across instances or while a partition moves.

Every save stamps a new ``version`` (one sequence for all three tables). A reader that still holds a row in
memory passes the version it knows; the row's document is sent and parsed again only when the version
differs (see :mod:`rapport_alliance_monitor.store.state_cache`). Documents travel as JSON text and are
parsed and dumped by pydantic's own JSON code, which is several times cheaper than dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import asyncpg

from rapport_alliance_monitor.domain import ClientState, ClinicianState, PairState

PairKey = tuple[str, str]
S = TypeVar("S", ClientState, ClinicianState, PairState)
K = TypeVar("K", str, PairKey)


@dataclass(frozen=True, slots=True)
class Versioned(Generic[S]):
    """A state document and the row version it was read or written as."""

    state: S
    version: int


async def lock_clients(conn: asyncpg.Connection, client_ids: Iterable[str]) -> None:
    ids = sorted(set(client_ids))
    if ids:
        await conn.execute(
            """SELECT pg_advisory_xact_lock(hashtextextended('alliance-client:' || id, 0))
               FROM unnest($1::text[]) WITH ORDINALITY AS t(id, n) ORDER BY n""",
            ids,
        )


def _known_version(known: Mapping[K, Versioned[S]], key: K) -> int | None:
    entry = known.get(key)
    return entry.version if entry is not None else None


def _one_key(row: asyncpg.Record) -> str:
    return str(row[0])


def _pair_key(row: asyncpg.Record) -> PairKey:
    return (row[0], row[1])


def _read(
    rows: Iterable[asyncpg.Record],
    key_of: Callable[[asyncpg.Record], K],
    model: type[S],
    known: Mapping[K, Versioned[S]],
) -> dict[K, Versioned[S]]:
    found: dict[K, Versioned[S]] = {}
    for row in rows:
        key = key_of(row)
        text = row["state"]
        if text is None:  # unchanged since the version the caller holds
            found[key] = known[key]
        else:
            found[key] = Versioned(model.model_validate_json(text), row["version"])
    return found


async def load_clients_versioned(
    conn: asyncpg.Connection, client_ids: Iterable[str], known: Mapping[str, Versioned[ClientState]]
) -> dict[str, Versioned[ClientState]]:
    ids = sorted(set(client_ids))
    rows = await conn.fetch(
        """SELECT s.client_id, s.version, CASE WHEN s.version = k.version THEN NULL ELSE s.state::text END AS state
           FROM client_states s JOIN unnest($1::text[], $2::int8[]) AS k(client_id, version) USING (client_id)""",
        ids,
        [_known_version(known, i) for i in ids],
    )
    return _read(rows, _one_key, ClientState, known)


async def load_clinicians_versioned(
    conn: asyncpg.Connection, clinician_ids: Iterable[str], known: Mapping[str, Versioned[ClinicianState]]
) -> dict[str, Versioned[ClinicianState]]:
    ids = sorted(set(clinician_ids))
    rows = await conn.fetch(
        """SELECT s.clinician_id, s.version,
                  CASE WHEN s.version = k.version THEN NULL ELSE s.state::text END AS state
           FROM clinician_states s
           JOIN unnest($1::text[], $2::int8[]) AS k(clinician_id, version) USING (clinician_id)""",
        ids,
        [_known_version(known, i) for i in ids],
    )
    return _read(rows, _one_key, ClinicianState, known)


async def load_pairs_versioned(
    conn: asyncpg.Connection, keys: Iterable[PairKey], known: Mapping[PairKey, Versioned[PairState]]
) -> dict[PairKey, Versioned[PairState]]:
    keys = sorted(set(keys))
    if not keys:
        return {}
    rows = await conn.fetch(
        """SELECT s.client_id, s.clinician_id, s.version,
                  CASE WHEN s.version = k.version THEN NULL ELSE s.state::text END AS state
           FROM pair_states s
           JOIN unnest($1::text[], $2::text[], $3::int8[]) AS k(client_id, clinician_id, version)
             USING (client_id, clinician_id)""",
        [k[0] for k in keys],
        [k[1] for k in keys],
        [_known_version(known, k) for k in keys],
    )
    return _read(rows, _pair_key, PairState, known)


async def load_clients(conn: asyncpg.Connection, client_ids: Iterable[str]) -> dict[str, ClientState]:
    return {k: v.state for k, v in (await load_clients_versioned(conn, client_ids, {})).items()}


async def load_clinicians(conn: asyncpg.Connection, clinician_ids: Iterable[str]) -> dict[str, ClinicianState]:
    return {k: v.state for k, v in (await load_clinicians_versioned(conn, clinician_ids, {})).items()}


async def load_pairs(conn: asyncpg.Connection, keys: Iterable[PairKey]) -> dict[PairKey, PairState]:
    return {k: v.state for k, v in (await load_pairs_versioned(conn, keys, {})).items()}


async def save_clients(conn: asyncpg.Connection, clients: Iterable[ClientState]) -> dict[str, Versioned[ClientState]]:
    """Upsert in the given order; returns what was written with its new version."""
    clients = list(clients)
    if not clients:
        return {}
    rows = await conn.fetch(
        """INSERT INTO client_states (client_id, clinician_id, state, version)
           SELECT client_id, clinician_id, state::jsonb, nextval('alliance_state_version')
           FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(client_id, clinician_id, state, n)
           ORDER BY n
           ON CONFLICT (client_id) DO UPDATE
           SET clinician_id = EXCLUDED.clinician_id, state = EXCLUDED.state, version = EXCLUDED.version,
               updated_at = now()
           RETURNING client_id, version""",
        [c.client_id for c in clients],
        [c.clinician_id for c in clients],
        [c.model_dump_json() for c in clients],
    )
    by_id = {c.client_id: c for c in clients}
    return {row[0]: Versioned(by_id[row[0]], row[1]) for row in rows}


async def save_clinicians(
    conn: asyncpg.Connection, clinicians: Iterable[ClinicianState]
) -> dict[str, Versioned[ClinicianState]]:
    clinicians = list(clinicians)
    if not clinicians:
        return {}
    rows = await conn.fetch(
        """INSERT INTO clinician_states (clinician_id, supervisor_id, state, version)
           SELECT clinician_id, supervisor_id, state::jsonb, nextval('alliance_state_version')
           FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(clinician_id, supervisor_id, state, n)
           ORDER BY n
           ON CONFLICT (clinician_id) DO UPDATE
           SET supervisor_id = EXCLUDED.supervisor_id, state = EXCLUDED.state, version = EXCLUDED.version,
               updated_at = now()
           RETURNING clinician_id, version""",
        [c.clinician_id for c in clinicians],
        [c.supervisor_id for c in clinicians],
        [c.model_dump_json() for c in clinicians],
    )
    by_id = {c.clinician_id: c for c in clinicians}
    return {row[0]: Versioned(by_id[row[0]], row[1]) for row in rows}


async def save_pairs(conn: asyncpg.Connection, pairs: Iterable[PairState]) -> dict[PairKey, Versioned[PairState]]:
    pairs = list(pairs)
    if not pairs:
        return {}
    rows = await conn.fetch(
        """INSERT INTO pair_states (client_id, clinician_id, state, version)
           SELECT client_id, clinician_id, state::jsonb, nextval('alliance_state_version')
           FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(client_id, clinician_id, state, n)
           ORDER BY n
           ON CONFLICT (client_id, clinician_id) DO UPDATE
           SET state = EXCLUDED.state, version = EXCLUDED.version, updated_at = now()
           RETURNING client_id, clinician_id, version""",
        [p.client_id for p in pairs],
        [p.clinician_id for p in pairs],
        [p.model_dump_json() for p in pairs],
    )
    by_key = {(p.client_id, p.clinician_id): p for p in pairs}
    return {(row[0], row[1]): Versioned(by_key[(row[0], row[1])], row[2]) for row in rows}
