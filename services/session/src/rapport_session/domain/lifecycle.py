"""The session lifecycle as one table: from which status each action may be taken, the status it leads to,
and the refusal a caller gets when the session is in any other status.

Every status rule of the service is read from here: the lifecycle commands (reschedule ... record), the
feedback instruments (which one may be submitted when), telemetry (which sessions accept windows) and the
timer job (no-show, overrun). A refusal is a 409: the action can never succeed from that status, so it has
no ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from rapport_common.refusal import Refusal

Status = Literal["scheduled", "running", "ended", "cancelled", "no-show"]
Action = Literal[
    "reschedule",
    "cancel",
    "start",
    "join",
    "leave",
    "end",
    "record",
    "submit-srs",
    "submit-ors",
    "submit-pulse",
    "submit-wai",
    "ingest-telemetry",
    "mark-no-show",
    "report-overrun",
]


@dataclass(frozen=True, slots=True)
class Rule:
    """One action: ``moves`` maps each status it may be taken from to the status after it."""

    moves: Mapping[str, Status]
    #: the refusal's message for any other status (``{status}`` is the session's status)
    refusal: str


def _stays(*statuses: Status) -> Mapping[str, Status]:
    """An action that may be taken in ``statuses`` and leaves the status as it is."""
    return {status: status for status in statuses}


def _cannot(verb: str) -> str:
    return f"cannot {verb} a session that is {{status}}"


def _not_submitted(instrument: str) -> str:
    return f"{instrument} cannot be submitted while the session is {{status}}"


LIFECYCLE: Mapping[Action, Rule] = MappingProxyType(
    {
        "reschedule": Rule(_stays("scheduled"), _cannot("reschedule")),
        "cancel": Rule({"scheduled": "cancelled"}, _cannot("cancel")),
        "start": Rule({"scheduled": "running"}, _cannot("start")),
        # the waiting room opens before the start; leaving is allowed wherever joining is
        "join": Rule(_stays("scheduled", "running"), _cannot("join")),
        "leave": Rule(_stays("scheduled", "running"), _cannot("leave")),
        "end": Rule({"running": "ended"}, _cannot("end")),
        "record": Rule(_stays("running"), _cannot("record")),
        # SRS and WAI-SR rate the session, so they may come just after its end; ORS may come in the waiting room
        "submit-srs": Rule(_stays("running", "ended"), _not_submitted("srs")),
        "submit-ors": Rule(_stays("scheduled", "running"), _not_submitted("ors")),
        "submit-pulse": Rule(_stays("running"), _not_submitted("pulse")),
        "submit-wai": Rule(_stays("running", "ended"), _not_submitted("wai")),
        # the last windows may arrive just after the end
        "ingest-telemetry": Rule(_stays("running", "ended"), "session is {status}"),
        # a running session (the clinician waiting) stays open for the clinician to end
        "mark-no-show": Rule({"scheduled": "no-show", "running": "running"}, _cannot("mark a no-show in")),
        "report-overrun": Rule(_stays("running"), _cannot("report an overrun of")),
    }
)


def allows(action: Action, status: str) -> bool:
    """May ``action`` be taken on a session that is ``status``?"""
    return status in LIFECYCLE[action].moves


def next_status(action: Action, status: str, *, field: str = "status") -> Status:
    """The status after ``action`` from ``status``; a 409 naming ``field`` when the action is not allowed."""
    rule = LIFECYCLE[action]
    after = rule.moves.get(status)
    if after is None:
        raise Refusal(409, field, rule.refusal.format(status=status))
    return after
