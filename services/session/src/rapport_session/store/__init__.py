"""SQL of the session service (asyncpg). Functions take the connection of the caller's transaction."""
