"""PostgreSQL plumbing on asyncpg: pool, migrations, transactional outbox and idempotent-consumer inbox."""
