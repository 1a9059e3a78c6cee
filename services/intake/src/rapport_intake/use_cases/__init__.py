"""Intake's use cases: keyword-only functions over a unit of work, one module per aggregate (clinicians,
clients, assignments, intakes). They load through the store, decide with the domain's rules, raise a
:class:`~rapport_common.refusal.Refusal` naming the field when they refuse, publish through ``uow.publish``
and read time only from ``uow.now``. Commands answer with an
:class:`~rapport_common.application.unit_of_work.Outcome` (run once per idempotency key by
``Transactions.command``), queries with their response model; neither knows who called it.
"""
