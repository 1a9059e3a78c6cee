"""Who may act for, or read about, a client: one definition of the decision every service makes.

The client themself and the clinician of record (as the service's intake view knows them) may; so may the
roles a use case names as working across all clients (the ``service`` workload, compliance for reads).
Anyone else gets a 403 naming ``client_id``. Services ask this instead of writing their own role checks;
alert visibility, which also depends on an alert's audience, lives with the alerts in the monitor.

Ask before answering "no such client": pass ``clinician_of_record=None`` for a client the service does not
know. The refusal is then the very one a known client of someone else gets (same status, same body), so a
caller without access cannot learn which client ids exist; only a caller who may act for the client gets
to hear that the service knows nothing of them.
"""

from __future__ import annotations

from collections.abc import Collection

from rapport_common.auth import Principal, Role
from rapport_common.refusal import Refusal


def may_act_for_client(
    principal: Principal, *, client_id: str, clinician_of_record: str | None, all_clients: Collection[Role] = ()
) -> bool:
    if principal.role == "client":
        return principal.subject == client_id
    if principal.role == "clinician":
        return clinician_of_record is not None and clinician_of_record == principal.subject
    return principal.role in all_clients


def check_client_access(
    principal: Principal, *, client_id: str, clinician_of_record: str | None, all_clients: Collection[Role] = ()
) -> None:
    """Refuse (403, ``client_id``) a caller who may not act for ``client_id``."""
    if may_act_for_client(
        principal, client_id=client_id, clinician_of_record=clinician_of_record, all_clients=all_clients
    ):
        return
    if principal.role == "client":
        raise Refusal(403, "client_id", "a client acts only for themself")
    if principal.role == "clinician":
        raise Refusal(403, "client_id", "this client is not assigned to you")
    raise Refusal(403, "client_id", f"role {principal.role!r} may not act for this client")
