"""A pair's trend: the SRS and ORS series of a client with their clinician, and the lines the chart draws."""

from __future__ import annotations

import asyncpg

from rapport_alliance_monitor.api.models import Band, OrsSeries, SrsSeries, TrendPoint, TrendView
from rapport_alliance_monitor.domain import ClientState, RulesConfig
from rapport_alliance_monitor.store import scores, states
from rapport_common.access import check_client_access
from rapport_common.application.unit_of_work import UnitOfWork
from rapport_common.auth import Principal
from rapport_common.refusal import Refusal


async def client_trend(uow: UnitOfWork, *, principal: Principal, client_id: str, rules: RulesConfig) -> TrendView:
    """Clinician of record only (the client's current assignment, from ``clinician-assigned``). A client
    the monitor does not know is refused like one assigned to someone else, so a stranger cannot tell
    which client ids exist."""
    client = (await states.load_clients(uow.conn, [client_id])).get(client_id)
    check_client_access(principal, client_id=client_id, clinician_of_record=client.clinician_id if client else None)
    if client is None:  # not reached by a clinician (no clinician of record); kept for roles that see all
        raise Refusal(404, "client_id", "no such client known to the monitor")
    points = _points(await scores.series(uow.conn, client_id=client_id, clinician_id=principal.subject))
    return TrendView(
        client_id=client_id,
        clinician_id=principal.subject,
        srs=SrsSeries(cutoff=rules.srs.cutoff, points=points["srs"]),
        ors=_ors_series(client, rules, points["ors"]),
    )


def _points(rows: list[asyncpg.Record]) -> dict[str, list[TrendPoint]]:
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
    return points


def _ors_series(client: ClientState, rules: RulesConfig, points: list[TrendPoint]) -> OrsSeries:
    """The ORS lines: the age band's cutoff (the intake's band, else the baseline's) and the band around the
    baseline inside which movement is not reliable change."""
    age_band = client.age_band or (client.baseline.age_band if client.baseline else None)
    baseline = client.baseline.total_tenths / 10 if client.baseline else None
    change = rules.ors.reliable_change
    return OrsSeries(
        cutoff=rules.ors.cutoffs.for_band(age_band) if age_band else None,
        age_band=age_band,
        baseline=baseline,
        reliable_change=change,
        reliable_change_band=Band(low=round(baseline - change, 1), high=round(baseline + change, 1))
        if baseline is not None
        else None,
        points=points,
    )
