"""PostgreSQL plumbing on asyncpg: pool, migrations, transactional outbox and idempotent-consumer inbox.

``inbox`` is imported here so ``from rapport_common.db import inbox`` names a package attribute that mypy
resolves even from a stale incremental cache (it reported "has no attribute inbox" without this). It needs
only asyncpg. The other submodules stay lazy: ``outbox`` pulls in the Kafka producer and the metrics.
"""

from rapport_common.db import inbox

__all__ = ["inbox"]
