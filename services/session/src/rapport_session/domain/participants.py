"""Who a caller is in a session: its client, its clinician, or the ``service`` workload acting for either.

Pure (the session's ids are passed in): the use cases read the session, then ask this. Which clients a
caller may act for outside a session is the suite-wide rule of ``rapport_common.access``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

from rapport_common.auth import Principal
from rapport_common.refusal import Refusal

#: what a caller can be in a session
Party = Literal["client", "clinician", "service"]


def party_of(principal: Principal, *, client_id: str, clinician_id: str, roles: Collection[Party]) -> Party:
    """The caller's part in the session of ``client_id`` and ``clinician_id`` when its role is one of
    ``roles``; else 403 (a client only in their own sessions, a clinician only in the sessions they run)."""
    if principal.role not in roles:
        raise Refusal(403, "role", f"{principal.role!r} may not do this")
    if principal.role == "client":
        if client_id != principal.subject:
            raise Refusal(403, "session_id", "not your session")
        return "client"
    if principal.role == "clinician":
        if clinician_id != principal.subject:
            raise Refusal(403, "session_id", "not a session of yours")
        return "clinician"
    return "service"


def check_runs_with_clinician_of_record(
    principal: Principal, *, clinician_id: str, clinician_of_record: str | None
) -> None:
    """A session goes ahead (starts, records) only with the client's current clinician of record: a session
    booked before the client was reassigned stays on the books but is refused (403 naming ``client_id``),
    to its former clinician and to the service role acting for them alike."""
    if clinician_of_record == clinician_id:
        return
    if principal.role == "clinician" and principal.subject == clinician_id:
        raise Refusal(403, "client_id", "this client is no longer assigned to you")
    raise Refusal(403, "client_id", "the session's clinician is no longer the client's clinician of record")
