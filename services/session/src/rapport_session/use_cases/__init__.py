"""The session service's use cases: one module per aggregate, keyword-only functions over a unit of work.

Routes, the timer job and consumers call these and only translate (parse a request, answer an outcome);
a use case never knows which of them called it. Refusals are :class:`rapport_common.refusal.Refusal`.

Most use cases take a :class:`~rapport_common.application.unit_of_work.UnitOfWork`. Those that must ask the
consent service between reading a session and changing it take the service's ``Transactions`` instead and
open their units of work around the question, so no connection or row lock is held across a network call
(the consent client itself may need a connection for its local view).
"""
