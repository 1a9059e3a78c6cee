"""Who may do what in intake (ARCHITECTURE.md: a clinician sees only their clients; operators see no client
data; compliance reads, never writes). Pure functions over the caller's role and subject and the facts the
route loaded, so the whole matrix is unit-testable and lives in one place.

| action                    | allowed                                                                   |
|---------------------------|---------------------------------------------------------------------------|
| register a clinician      | operator, service; supervisor only with themselves as ``supervisor_id``   |
| register a client         | clinician, service                                                        |
| assign / reassign         | service; supervisor when the new (and any current) clinician is theirs    |
| complete the intake       | the client themself, the clinician of record, service                     |
| read a caseload           | the clinician themself, their supervisor, service                         |
| read an intake summary    | the clinician of record (full), compliance (without the client's words)   |
"""

from __future__ import annotations

from typing import Protocol

REGISTER_CLINICIAN_ROLES = ("operator", "service", "supervisor")
REGISTER_CLIENT_ROLES = ("clinician", "service")
ASSIGN_ROLES = ("supervisor", "service")
COMPLETE_INTAKE_ROLES = ("client", "clinician", "service")
CASELOAD_ROLES = ("clinician", "supervisor", "service")
INTAKE_SUMMARY_ROLES = ("clinician", "compliance")


class Caller(Protocol):
    @property
    def subject(self) -> str: ...
    @property
    def role(self) -> str: ...


def may_name_supervisor(caller: Caller, supervisor_id: str | None) -> bool:
    """A supervisor registers clinicians into their own team only; operators and services name anyone."""
    return caller.role != "supervisor" or supervisor_id == caller.subject


def may_assign(
    caller: Caller, *, new_supervisor: str | None, current_supervisor: str | None, has_current: bool
) -> bool:
    """Services assign anyone; a supervisor moves clients only between clinicians they supervise."""
    if caller.role == "service":
        return True
    if caller.role != "supervisor":
        return False
    if new_supervisor != caller.subject:
        return False
    return not has_current or current_supervisor == caller.subject


def may_complete_intake(caller: Caller, *, client_id: str, clinician_of_record: str | None) -> bool:
    if caller.role == "service":
        return True
    if caller.role == "client":
        return caller.subject == client_id
    if caller.role == "clinician":
        return clinician_of_record is not None and caller.subject == clinician_of_record
    return False


def may_read_caseload(caller: Caller, *, clinician_id: str, supervisor_id: str | None) -> bool:
    if caller.role == "service":
        return True
    if caller.role == "clinician":
        return caller.subject == clinician_id
    if caller.role == "supervisor":
        return supervisor_id is not None and caller.subject == supervisor_id
    return False


def may_read_intake_summary(caller: Caller, *, clinician_of_record: str | None) -> bool:
    if caller.role == "compliance":
        return True
    return caller.role == "clinician" and clinician_of_record is not None and caller.subject == clinician_of_record


def sees_client_words(caller: Caller) -> bool:
    """Presenting concerns and goals are clinical content: the clinician of record sees them, compliance not."""
    return caller.role == "clinician"
