"""The consent service's use cases: keyword-only functions over a unit of work (commands) or the service's
transactions (reads, which ledger compliance reads in a unit of work of their own).

Routes, the intake consumer and the expiry worker are thin adapters over them; a use case never knows which
one called it. Rules without I/O live in :mod:`rapport_consent.domain`, SQL in :mod:`rapport_consent.store`.
A command that changes consent history appends its ledger entry last: the ledger's append lock is held from
there to commit, so that stretch stays short.
"""
