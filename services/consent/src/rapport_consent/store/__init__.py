"""SQL of the consent service (asyncpg)."""
