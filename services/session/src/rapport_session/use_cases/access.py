"""Reading what a caller may act on: a client (through the intake view) or a session (as a participant).

Shared by the use cases of every aggregate: who may act for a client is the suite's one rule
(``rapport_common.access``); who takes part in a session is ``domain.participants``.
"""

from __future__ import annotations

import asyncpg

from rapport_common.access import check_client_access
from rapport_common.auth import Principal, Role
from rapport_common.projections import intake_view
from rapport_common.refusal import Refusal
from rapport_session.consent_client import ConsentClient
from rapport_session.domain.participants import Party, check_runs_with_clinician_of_record, party_of
from rapport_session.store import sessions
from rapport_session.store.sessions import Row

#: the roles that act for any client (the video gateway, the simulator)
ALL_CLIENTS: tuple[Role, ...] = ("service",)


async def assigned_clinician(conn: asyncpg.Connection, principal: Principal, *, client_id: str) -> str:
    """The clinician of record of ``client_id`` when the caller may act for that client (403 otherwise);
    409 while intake has assigned nobody yet (the service role, or the client themself, asked too early)."""
    clinician_id = (await intake_view.client_facts(conn, client_id)).clinician_id
    check_client_access(principal, client_id=client_id, clinician_of_record=clinician_id, all_clients=ALL_CLIENTS)
    if clinician_id is None:
        raise Refusal(409, "client_id", "the client has no assigned clinician yet")
    return clinician_id


async def session_row(conn: asyncpg.Connection, session_id: str, *, for_update: bool = False) -> Row:
    """The session (locked for this transaction with ``for_update``); 404 naming ``session_id``."""
    row = await sessions.get(conn, session_id, for_update=for_update)
    if row is None:
        raise Refusal(404, "session_id", "session not found")
    return row


def party(principal: Principal, session: Row, *, roles: tuple[Party, ...]) -> Party:
    """The caller's part in ``session`` (see :func:`domain.participants.party_of`)."""
    return party_of(principal, client_id=session["client_id"], clinician_id=session["clinician_id"], roles=roles)


async def require_current_assignment(conn: asyncpg.Connection, principal: Principal, session: Row) -> None:
    """403 naming ``client_id`` unless the session's clinician is still the client's clinician of record (the
    intake view, which follows ``clinician-assigned``)."""
    clinician_of_record = (await intake_view.client_facts(conn, session["client_id"])).clinician_id
    check_runs_with_clinician_of_record(
        principal, clinician_id=session["clinician_id"], clinician_of_record=clinician_of_record
    )


async def require_consent(consent: ConsentClient, *, client_id: str, scope: str, refusal: str) -> None:
    """403 naming ``consent`` (with ``refusal`` as its message) unless ``scope`` is active for the client."""
    if not await consent.is_active(client_id, scope):
        raise Refusal(403, "consent", refusal)
