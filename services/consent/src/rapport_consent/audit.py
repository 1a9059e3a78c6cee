"""Every read of consent data by compliance is itself a ledger entry (HIPAA 164.312(b)).

The entry is committed before the data is read, in its own short unit of work: a read that could not be
recorded is not served (fail closed), and long exports do not hold the ledger's append lock.
"""

from __future__ import annotations

from typing import Any

from rapport_common.application.unit_of_work import Transactions
from rapport_common.auth import Principal
from rapport_consent.store import ledger


async def record_read(
    transactions: Transactions,
    principal: Principal,
    *,
    what: str,
    request_id: str,
    client_id: str | None = None,
    scope: str | None = None,
    consent_id: str | None = None,
    filters: dict[str, Any] | None = None,
) -> None:
    """Commit the ledger entry of ``principal`` reading ``what`` (``filters`` given as None are left out)."""
    entry = ledger.NewEntry(
        actor_id=principal.subject,
        actor_role=principal.role,
        action="compliance.read",
        channel="compliance-api",
        client_id=client_id,
        scope=scope,
        consent_id=consent_id,
        reason=what,
        request_id=request_id,
        details={"what": what, "filters": {k: v for k, v in (filters or {}).items() if v is not None}},
    )
    async with transactions.begin() as uow:
        await ledger.append(uow.conn, [entry])
