"""The domain's state documents in jsonb rows: clients, clinicians and pairs.

Writers lock the clients they touch first (:func:`lock_clients`, a transaction-scoped advisory lock per
client id taken in sorted order), so the consumer, the hold job and the alert API never interleave their
read-modify-write of one client's rows, even across instances or while a partition moves.

Documents travel as JSON text, parsed and dumped by pydantic's own JSON code (several times cheaper than
``json`` + dicts), and each kind is written in one statement per transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from rapport_alliance_monitor.domain import ClientState, ClinicianState, PairState

PairKey = tuple[str, str]

#: parsed clinician documents by their exact JSON text. A clinician's document changes only with a new
#: registration, yet nearly every batch reads hundreds of them (every pair event names its clinician); the
#: same text always parses to the same frozen model, so this can never answer with a stale state.
_CLINICIAN_PARSES: dict[str, ClinicianState] = {}
_CLINICIAN_PARSES_MAX = 4096


def _clinician_of(text: str) -> ClinicianState:
    parsed = _CLINICIAN_PARSES.get(text)
    if parsed is None:
        if len(_CLINICIAN_PARSES) >= _CLINICIAN_PARSES_MAX:
            _CLINICIAN_PARSES.clear()
        parsed = _CLINICIAN_PARSES[text] = ClinicianState.model_validate_json(text)
    return parsed


async def lock_clients(conn: asyncpg.Connection, client_ids: Iterable[str]) -> None:
    ids = sorted(set(client_ids))
    if ids:
        await conn.execute(
            """SELECT pg_advisory_xact_lock(hashtextextended('alliance-client:' || id, 0))
               FROM unnest($1::text[]) WITH ORDINALITY AS t(id, n) ORDER BY n""",
            ids,
        )


async def load_clients(conn: asyncpg.Connection, client_ids: Iterable[str]) -> dict[str, ClientState]:
    rows = await conn.fetch(
        "SELECT client_id, state::text FROM client_states WHERE client_id = ANY($1::text[])", list(set(client_ids))
    )
    return {row[0]: ClientState.model_validate_json(row[1]) for row in rows}


async def load_clinicians(conn: asyncpg.Connection, clinician_ids: Iterable[str]) -> dict[str, ClinicianState]:
    rows = await conn.fetch(
        "SELECT clinician_id, state::text FROM clinician_states WHERE clinician_id = ANY($1::text[])",
        list(set(clinician_ids)),
    )
    return {row[0]: _clinician_of(row[1]) for row in rows}


async def load_pairs(conn: asyncpg.Connection, keys: Iterable[PairKey]) -> dict[PairKey, PairState]:
    keys = list(set(keys))
    if not keys:
        return {}
    rows = await conn.fetch(
        """SELECT p.client_id, p.clinician_id, p.state::text
           FROM pair_states p
           JOIN unnest($1::text[], $2::text[]) AS k(client_id, clinician_id)
             ON p.client_id = k.client_id AND p.clinician_id = k.clinician_id""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {(row[0], row[1]): PairState.model_validate_json(row[2]) for row in rows}


async def save_clients(conn: asyncpg.Connection, clients: Iterable[ClientState]) -> None:
    """Upsert in the given order (one id at most once)."""
    clients = list(clients)
    if clients:
        await conn.execute(
            """INSERT INTO client_states (client_id, clinician_id, state)
               SELECT client_id, clinician_id, state::jsonb
               FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(client_id, clinician_id, state, n)
               ORDER BY n
               ON CONFLICT (client_id) DO UPDATE
               SET clinician_id = EXCLUDED.clinician_id, state = EXCLUDED.state, updated_at = now()""",
            [c.client_id for c in clients],
            [c.clinician_id for c in clients],
            [c.model_dump_json() for c in clients],
        )


async def save_clinicians(conn: asyncpg.Connection, clinicians: Iterable[ClinicianState]) -> None:
    clinicians = list(clinicians)
    if clinicians:
        await conn.execute(
            """INSERT INTO clinician_states (clinician_id, supervisor_id, state)
               SELECT clinician_id, supervisor_id, state::jsonb
               FROM unnest($1::text[], $2::text[], $3::text[])
                    WITH ORDINALITY AS t(clinician_id, supervisor_id, state, n)
               ORDER BY n
               ON CONFLICT (clinician_id) DO UPDATE
               SET supervisor_id = EXCLUDED.supervisor_id, state = EXCLUDED.state, updated_at = now()""",
            [c.clinician_id for c in clinicians],
            [c.supervisor_id for c in clinicians],
            [c.model_dump_json() for c in clinicians],
        )


async def save_pairs(conn: asyncpg.Connection, pairs: Iterable[PairState]) -> None:
    pairs = list(pairs)
    if pairs:
        await conn.execute(
            """INSERT INTO pair_states (client_id, clinician_id, state)
               SELECT client_id, clinician_id, state::jsonb
               FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(client_id, clinician_id, state, n)
               ORDER BY n
               ON CONFLICT (client_id, clinician_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now()""",
            [p.client_id for p in pairs],
            [p.clinician_id for p in pairs],
            [p.model_dump_json() for p in pairs],
        )
