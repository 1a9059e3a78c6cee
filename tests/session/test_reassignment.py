"""A client reassigned to another clinician: the former clinician's already-booked sessions stay, but they
can no longer start them or record in them (the check is the client's current assignment, not the session's
booking); the new clinician's own sessions go ahead."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any


async def test_former_clinician_cannot_start_or_record_after_reassignment(svc: Any) -> None:
    client, former = await svc.pair()
    booked = await svc.schedule(client, former, start_in=timedelta(hours=30))
    running = await svc.schedule(client, former, start_in=timedelta(hours=40))
    started = await svc.http.post(f"/sessions/{running['session_id']}/start", headers=svc.as_clinician(former))
    assert started.status_code == 200, started.text

    new = f"clinician-{uuid.uuid4().hex[:10]}"
    await svc.assign(client, new)

    for path in (f"/sessions/{booked['session_id']}/start", f"/sessions/{running['session_id']}/recording"):
        refused = await svc.http.post(path, headers=svc.as_clinician(former))
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["detail"].startswith("client_id:"), refused.text
    # nor through the service role (the video gateway) on the former clinician's behalf
    refused = await svc.http.post(f"/sessions/{booked['session_id']}/start", headers=svc.as_service())
    assert refused.status_code == 403 and refused.json()["detail"].startswith("client_id:"), refused.text

    # the former clinician's booking is still there, unchanged
    kept = await svc.http.get(f"/sessions/{booked['session_id']}", headers=svc.as_service())
    assert kept.status_code == 200 and kept.json()["status"] == "scheduled", kept.text
    assert kept.json()["clinician_id"] == former

    # the new clinician books, starts and records their own session
    own = await svc.schedule(client, new, start_in=timedelta(hours=50))
    started = await svc.http.post(f"/sessions/{own['session_id']}/start", headers=svc.as_clinician(new))
    assert started.status_code == 200, started.text
    recorded = await svc.http.post(f"/sessions/{own['session_id']}/recording", headers=svc.as_clinician(new))
    assert recorded.status_code == 200, recorded.text
