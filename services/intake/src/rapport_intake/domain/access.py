"""Who may do what in intake (ARCHITECTURE.md: a clinician sees only their clients; operators see no client
data; compliance reads, never writes). Pure functions over the caller's role and subject and the facts the
use case loaded, so the whole matrix is unit-testable and lives in one place.

| action                    | allowed                                                                   |
|---------------------------|---------------------------------------------------------------------------|
| register a clinician      | operator, service; supervisor only with themselves as ``supervisor_id``   |
| register a client         | clinician, service                                                        |
| assign / reassign         | service; supervisor when the new (and any current) clinician is theirs    |
| complete the intake       | the client themself, the clinician of record, service                     |
| read a caseload           | the clinician themself, their supervisor, service                         |
| read an intake summary    | the clinician of record (full), compliance (without the client's words)   |

Whether a caller may act for a client (the client themself, the clinician of record, the roles working
across all clients) is the suite's one decision, :mod:`rapport_common.access`; intake only names, per
action, the roles that work across all clients. A supervisor's team (the clinicians whose ``supervisor_id``
names them) is intake's own decision: :func:`supervises`, used by registration, assignment and caseloads.
"""

from __future__ import annotations

from typing import Protocol

from rapport_common.auth import Role
from rapport_common.refusal import Refusal

REGISTER_CLINICIAN_ROLES: tuple[Role, ...] = ("operator", "service", "supervisor")
REGISTER_CLIENT_ROLES: tuple[Role, ...] = ("clinician", "service")
ASSIGN_ROLES: tuple[Role, ...] = ("supervisor", "service")
COMPLETE_INTAKE_ROLES: tuple[Role, ...] = ("client", "clinician", "service")
CASELOAD_ROLES: tuple[Role, ...] = ("clinician", "supervisor", "service")
INTAKE_SUMMARY_ROLES: tuple[Role, ...] = ("clinician", "compliance")

#: who completes the intake of any client, besides the client themself and the clinician of record
COMPLETE_INTAKE_ALL_CLIENTS: tuple[Role, ...] = ("service",)
#: who reads the intake summary of any client, besides the clinician of record
INTAKE_SUMMARY_ALL_CLIENTS: tuple[Role, ...] = ("compliance",)


class Caller(Protocol):
    @property
    def subject(self) -> str: ...
    @property
    def role(self) -> str: ...


def supervises(caller: Caller, supervisor_id: str | None) -> bool:
    """The team decision: the caller is the supervisor a clinician's ``supervisor_id`` names."""
    return caller.role == "supervisor" and supervisor_id is not None and supervisor_id == caller.subject


def may_name_supervisor(caller: Caller, supervisor_id: str | None) -> bool:
    """A supervisor registers clinicians into their own team only; operators and services name anyone."""
    return caller.role != "supervisor" or supervises(caller, supervisor_id)


def registration_supervisor(caller: Caller, requested: str | None) -> str | None:
    """The supervisor a clinician is registered under: a supervisor who names nobody registers into their
    own team, and may not name anyone else (403 naming ``supervisor_id``)."""
    supervisor_id = caller.subject if caller.role == "supervisor" and requested is None else requested
    if not may_name_supervisor(caller, supervisor_id):
        raise Refusal(403, "supervisor_id", "a supervisor registers clinicians only into their own team")
    return supervisor_id


def may_assign(
    caller: Caller, *, new_supervisor: str | None, current_supervisor: str | None, has_current: bool
) -> bool:
    """Services assign anyone; a supervisor moves clients only between clinicians they supervise."""
    if caller.role == "service":
        return True
    if not supervises(caller, new_supervisor):
        return False
    return not has_current or supervises(caller, current_supervisor)


def check_assigner(
    caller: Caller, *, new_supervisor: str | None, current_supervisor: str | None, has_current: bool
) -> None:
    """Refuse (403, ``clinician_id``) an assignment :func:`may_assign` does not allow."""
    if not may_assign(
        caller, new_supervisor=new_supervisor, current_supervisor=current_supervisor, has_current=has_current
    ):
        raise Refusal(403, "clinician_id", "a supervisor assigns only between clinicians they supervise")


def check_own_caseload(caller: Caller, clinician_id: str) -> None:
    """A clinician reads only their own caseload. Checked before the clinician is looked up, so a clinician
    learns nothing about which other clinician ids exist (403, never 404)."""
    if caller.role == "clinician" and caller.subject != clinician_id:
        raise Refusal(403, "clinician_id", "a clinician reads only their own caseload")


def may_read_caseload(caller: Caller, *, clinician_id: str, supervisor_id: str | None) -> bool:
    if caller.role == "service":
        return True
    if caller.role == "clinician":
        return caller.subject == clinician_id
    return supervises(caller, supervisor_id)


def check_caseload_reader(caller: Caller, *, clinician_id: str, supervisor_id: str | None) -> None:
    """Refuse (403, ``clinician_id``) a caller :func:`may_read_caseload` does not allow."""
    check_own_caseload(caller, clinician_id)
    if not may_read_caseload(caller, clinician_id=clinician_id, supervisor_id=supervisor_id):
        raise Refusal(403, "clinician_id", "not a clinician you supervise")


def sees_client_words(caller: Caller) -> bool:
    """Presenting concerns and goals are clinical content: the clinician of record sees them, compliance not."""
    return caller.role == "clinician"
