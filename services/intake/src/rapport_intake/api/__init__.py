"""HTTP routes of the intake service."""
