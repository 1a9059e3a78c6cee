"""Operators' numbers: Prometheus text from each service, reduced to a whitelist and aggregated (no I/O here)."""
