"""``GET /clients/{client_id}/trend``: the pair's SRS and ORS series with the lines the chart draws."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException

from rapport_alliance_monitor.api.deps import PoolDep, RulesDep
from rapport_alliance_monitor.api.models import Band, OrsSeries, SrsSeries, TrendPoint, TrendView
from rapport_alliance_monitor.store import scores, states
from rapport_common.auth import Principal, require_roles

router = APIRouter(tags=["trend"])

Clinician = Annotated[Principal, Depends(require_roles("clinician"))]


@router.get("/clients/{client_id}/trend", response_model=TrendView)
async def client_trend(client_id: str, principal: Clinician, pool: PoolDep, rules: RulesDep) -> TrendView:
    """Clinician of record only (the client's current assignment, from ``clinician-assigned``)."""
    async with pool.acquire() as conn:
        client = (await states.load_clients(conn, [client_id])).get(client_id)
        if client is None:
            raise HTTPException(404, "client_id: no such client known to the monitor")
        if client.clinician_id != principal.subject:
            raise HTTPException(403, "client_id: you are not this client's clinician of record")
        rows = await scores.series(conn, client_id=client_id, clinician_id=principal.subject)
    points: dict[str, list[TrendPoint]] = {"srs": [], "ors": []}
    for row in rows:
        points[row["scale"]].append(
            TrendPoint(
                event_id=row["event_id"],
                session_id=row["session_id"],
                session_number=row["session_number"],
                at=row["at"],
                total=row["total_tenths"] / 10,
            )
        )
    age_band = client.age_band or (client.baseline.age_band if client.baseline else None)
    baseline = client.baseline.total_tenths / 10 if client.baseline else None
    change = rules.ors.reliable_change
    return TrendView(
        client_id=client_id,
        clinician_id=principal.subject,
        srs=SrsSeries(cutoff=rules.srs.cutoff, points=points["srs"]),
        ors=OrsSeries(
            cutoff=rules.ors.cutoffs.for_band(age_band) if age_band else None,
            age_band=age_band,
            baseline=baseline,
            reliable_change=change,
            reliable_change_band=Band(low=round(baseline - change, 1), high=round(baseline + change, 1))
            if baseline is not None
            else None,
            points=points["ors"],
        ),
    )
