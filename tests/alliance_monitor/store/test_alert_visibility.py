"""The SQL condition of an AlertFilter admits exactly the alerts its Python check admits (real PostgreSQL).

Every principal of a grid of roles and subjects against every alert of a grid of audiences, clinicians and
supervisors (a supervisor set, another one, NULL, and a clinician with no registration row).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import asyncpg

from rapport_alliance_monitor.domain.visibility import can_see, visibility_of
from rapport_alliance_monitor.store import alerts
from rapport_common.auth import ROLES, Principal

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
#: clinician -> supervisor (None: registered without one); k4 has no clinician row at all
SUPERVISORS = {"k1": "s1", "k2": "s2", "k3": None}
CLINICIANS = ("k1", "k2", "k3", "k4")
AUDIENCES = ("clinician", "supervisor", "compliance")
SUBJECTS = ("k1", "k2", "k3", "k4", "s1", "s2", "nobody")


async def _seed(conn: asyncpg.Connection) -> None:
    for clinician_id, supervisor_id in SUPERVISORS.items():
        await conn.execute(
            "INSERT INTO clinician_states (clinician_id, supervisor_id, state) VALUES ($1, $2, '{}'::jsonb)",
            clinician_id,
            supervisor_id,
        )
    for audience, clinician_id in itertools.product(AUDIENCES, CLINICIANS):
        alert_id = f"a-{audience}-{clinician_id}"
        await conn.execute(
            """INSERT INTO alerts (alert_id, rule, category, severity, audience, client_id, clinician_id, summary,
                                   evidence, raised_at)
               VALUES ($1, 'srs-drop', 'alliance', 'medium', $2, 'c1', $3, 's', '{}', $4)""",
            alert_id,
            audience,
            clinician_id,
            AT,
        )
        await alerts.append_history(conn, alert_id, action="raised", by="rule", at=AT)


async def test_sql_and_python_visibility_agree_on_every_generated_case(monitor_pool: asyncpg.Pool) -> None:
    async with monitor_pool.acquire() as conn, conn.transaction():
        await _seed(conn)
        every = await alerts.history_since(conn, 0, limit=1000)
        assert len(every) == len(AUDIENCES) * len(CLINICIANS)
        compared = 0
        for role, subject in itertools.product(ROLES, SUBJECTS):
            principal = Principal(subject, role)
            python = {row["alert_id"] for row in every if can_see(principal, row)}
            seen_by = visibility_of(principal)
            if seen_by is None:
                assert python == set()
                continue
            searched = {row["alert_id"] for row in await alerts.search(conn, seen_by=seen_by, limit=500)}
            history = {row["alert_id"] for row in await alerts.history_since(conn, 0, limit=1000, seen_by=seen_by)}
            assert searched == python == history, (role, subject)
            compared += 1
        assert compared == 3 * len(SUBJECTS)
        # the grid is not vacuous: a supervisor sees exactly the supervisor alert of the clinician naming them
        s1 = visibility_of(Principal("s1", "supervisor"))
        assert s1 is not None
        assert {row["alert_id"] for row in await alerts.search(conn, seen_by=s1)} == {"a-supervisor-k1"}
