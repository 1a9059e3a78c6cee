"""HTTP routes of the alliance-monitor: alerts (query, lifecycle, live stream) and the trend chart data."""
