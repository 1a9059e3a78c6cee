"""Live alerts: a per-instance hub fed by PostgreSQL LISTEN/NOTIFY, fanned out to Server-Sent Events streams."""
