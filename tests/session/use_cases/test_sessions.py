"""The session use cases without HTTP: who may book for whom, the lifecycle refusals, presence rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rapport_common.auth import Principal
from rapport_common.refusal import Refusal
from rapport_session.models import ScheduleRequest
from rapport_session.use_cases import sessions

SERVICE = Principal("video-gateway", "service")


def _request(world: Any, client_id: str, **extra: Any) -> ScheduleRequest:
    start = world.clock.now() + timedelta(days=2)
    return ScheduleRequest(
        client_id=client_id, scheduled_start=start, scheduled_end=start + timedelta(minutes=50), **extra
    )


async def _refusal(world: Any, use_case: Any, **kwargs: Any) -> Refusal:
    with pytest.raises(Refusal) as refused:
        async with world.transactions.begin() as uow:
            await use_case(uow, **kwargs)
    return refused.value


async def test_booking_needs_an_assigned_clinician_and_the_caller_may_act_for_the_client(world: Any) -> None:
    client_id, clinician_id = await world.pair()
    unassigned = "client-nobody"
    cases = [
        (SERVICE, unassigned, 409),  # the service role may act for anyone, but intake assigned nobody yet
        (Principal("someone-else", "clinician"), client_id, 403),
        (Principal("someone-else", "clinician"), unassigned, 403),
        (Principal(client_id, "client"), client_id, 403),  # a client does not book
        (Principal("sup-1", "supervisor"), client_id, 403),
    ]
    for principal, client, status in cases:
        refused = await _refusal(
            world,
            sessions.schedule_session,
            principal=principal,
            request=_request(world, client),
            settings=world.settings,
        )
        assert refused.status == status, (principal, client)
        assert refused.field in ("client_id", "role")
    assert await world.event_types(client_id) == []
    await world.book(client_id, clinician_id)
    async with world.transactions.begin() as uow:
        outcome = await sessions.schedule_session(
            uow, principal=SERVICE, request=_request(world, client_id), settings=world.settings
        )
    assert outcome.status_code == 201 and outcome.body["clinician_id"] == clinician_id
    assert await world.event_types(client_id) == ["session.scheduled", "session.scheduled"]


async def test_a_session_id_is_booked_once(world: Any) -> None:
    client_id, clinician_id = await world.pair()
    principal = Principal(clinician_id, "clinician")
    async with world.transactions.begin() as uow:
        await sessions.schedule_session(
            uow, principal=principal, request=_request(world, client_id, session_id="s-1"), settings=world.settings
        )
    refused = await _refusal(
        world,
        sessions.schedule_session,
        principal=principal,
        request=_request(world, client_id, session_id="s-1"),
        settings=world.settings,
    )
    assert (refused.status, refused.field) == (409, "session_id")


async def test_a_cancelled_session_refuses_every_further_change_naming_its_status(world: Any) -> None:
    client_id, clinician_id = await world.pair()
    sid = await world.book(client_id, clinician_id)
    client = Principal(client_id, "client")
    async with world.transactions.begin() as uow:
        view = await sessions.cancel_session(uow, principal=client, session_id=sid, settings=world.settings)
    assert (view.status, view.cancelled_by, view.late) == ("cancelled", "client", False)
    again = await _refusal(world, sessions.cancel_session, principal=client, session_id=sid, settings=world.settings)
    assert str(again) == "status: cannot cancel a session that is cancelled" and again.status == 409
    joining = await _refusal(world, sessions.join_session, principal=client, session_id=sid, participant=None)
    assert str(joining) == "status: cannot join a session that is cancelled"
    ending = await _refusal(world, sessions.end_session, principal=Principal(clinician_id, "clinician"), session_id=sid)
    assert str(ending) == "status: cannot end a session that is cancelled"
    assert await world.event_types(client_id) == ["session.scheduled", "session.cancelled"]
    # the no-show timer went with the cancellation
    assert await world.pool.fetchval("SELECT count(*) FROM session_timers WHERE session_id = $1", sid) == 0


async def test_presence_as_oneself_or_for_a_named_participant(world: Any) -> None:
    client_id, clinician_id = await world.pair()
    sid = await world.book(client_id, clinician_id)
    client = Principal(client_id, "client")
    unnamed = await _refusal(world, sessions.join_session, principal=SERVICE, session_id=sid, participant=None)
    assert (unnamed.status, unnamed.field) == (422, "participant")
    posing = await _refusal(world, sessions.join_session, principal=client, session_id=sid, participant="clinician")
    assert (posing.status, posing.field) == (403, "participant")
    stranger = await _refusal(
        world, sessions.join_session, principal=Principal("x", "client"), session_id=sid, participant=None
    )
    assert (stranger.status, stranger.field) == (403, "session_id")
    async with world.transactions.begin() as uow:
        view = await sessions.join_session(uow, principal=SERVICE, session_id=sid, participant="client")
    assert view.client_present and not view.clinician_present
    twice = await _refusal(world, sessions.join_session, principal=client, session_id=sid, participant=None)
    assert str(twice) == "participant: client is already in the session"
    async with world.transactions.begin() as uow:
        view = await sessions.leave_session(uow, principal=client, session_id=sid, participant=None)
    assert not view.client_present
    assert await world.event_types(client_id) == [
        "session.scheduled",
        "session.participant-joined",
        "session.participant-left",
    ]


async def test_an_unknown_session_is_404_naming_session_id(world: Any) -> None:
    refused = await _refusal(world, sessions.get_session, principal=SERVICE, session_id="no-such-session")
    assert (refused.status, refused.field) == (404, "session_id")
