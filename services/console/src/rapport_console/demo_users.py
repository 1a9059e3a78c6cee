"""The demo users of the embedded default (the simulator registers exactly these ids).

Only used when ``CONSOLE_DEMO_LOGIN`` is on: a production deployment signs people in with its identity
provider and the console only passes the resulting bearer tokens on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoUser:
    user_id: str
    role: str
    label: str

    @property
    def home(self) -> str:
        """The page this role works on."""
        return HOME[self.role]


HOME = {"clinician": "/clinician", "supervisor": "/clinician", "compliance": "/compliance", "operator": "/operator"}

DEMO_USERS: tuple[DemoUser, ...] = (
    *(DemoUser(f"clinician-{n:02d}", "clinician", f"Clinician {n}") for n in range(1, 7)),
    DemoUser("supervisor-01", "supervisor", "Supervisor (all clinicians)"),
    DemoUser("compliance-01", "compliance", "Compliance officer"),
    DemoUser("operator-01", "operator", "Operator"),
)
BY_ID = {user.user_id: user for user in DEMO_USERS}
