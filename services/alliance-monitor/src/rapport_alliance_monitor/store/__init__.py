"""SQL of the alliance-monitor (asyncpg): state rows, consent holds, alerts and their history, trend points."""
