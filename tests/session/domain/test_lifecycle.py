"""The lifecycle table: every action's allowed statuses, where it leads, and the refusal otherwise."""

from __future__ import annotations

from typing import get_args

import pytest

from rapport_common.refusal import Refusal
from rapport_session.domain import lifecycle
from rapport_session.domain.lifecycle import LIFECYCLE, Action, Status

STATUSES: tuple[Status, ...] = get_args(Status)

#: action -> {status it may be taken from: status after it}, written out by hand from DOMAIN.md's lifecycle
EXPECTED: dict[Action, dict[str, str]] = {
    "reschedule": {"scheduled": "scheduled"},
    "cancel": {"scheduled": "cancelled"},
    "start": {"scheduled": "running"},
    "join": {"scheduled": "scheduled", "running": "running"},
    "leave": {"scheduled": "scheduled", "running": "running"},
    "end": {"running": "ended"},
    "record": {"running": "running"},
    "submit-srs": {"running": "running", "ended": "ended"},
    "submit-ors": {"scheduled": "scheduled", "running": "running"},
    "submit-pulse": {"running": "running"},
    "submit-wai": {"running": "running", "ended": "ended"},
    "ingest-telemetry": {"running": "running", "ended": "ended"},
    "mark-no-show": {"scheduled": "no-show", "running": "running"},
    "report-overrun": {"running": "running"},
}


def test_every_action_is_in_the_table_and_only_those() -> None:
    assert set(LIFECYCLE) == set(get_args(Action)) == set(EXPECTED)


@pytest.mark.parametrize("action", sorted(EXPECTED))
@pytest.mark.parametrize("status", STATUSES)
def test_each_action_moves_from_its_statuses_and_is_refused_from_the_others(action: Action, status: Status) -> None:
    after = EXPECTED[action].get(status)
    assert lifecycle.allows(action, status) is (after is not None)
    if after is not None:
        assert lifecycle.next_status(action, status) == after
        return
    with pytest.raises(Refusal) as refused:
        lifecycle.next_status(action, status)
    assert (refused.value.status, refused.value.field) == (409, "status")
    assert status in refused.value.message
    assert refused.value.retry_after is None  # never succeeds from this status: nothing to retry


def test_cancelled_and_no_show_sessions_allow_nothing() -> None:
    for status in ("cancelled", "no-show"):
        assert [action for action in LIFECYCLE if lifecycle.allows(action, status)] == []


def test_the_refusals_say_what_was_refused() -> None:
    cases: list[tuple[Action, Status]] = [
        ("cancel", "cancelled"),
        ("submit-pulse", "ended"),
        ("ingest-telemetry", "scheduled"),
    ]
    messages = {}
    for action, status in cases:
        with pytest.raises(Refusal) as refused:
            lifecycle.next_status(action, status, field="body.windows.0.session_id")
        messages[action] = str(refused.value)
    assert messages == {
        "cancel": "body.windows.0.session_id: cannot cancel a session that is cancelled",
        "submit-pulse": "body.windows.0.session_id: pulse cannot be submitted while the session is ended",
        "ingest-telemetry": "body.windows.0.session_id: session is scheduled",
    }


def test_an_unknown_status_is_refused_not_accepted() -> None:
    with pytest.raises(Refusal):
        lifecycle.next_status("start", "paused")
