"""HTTP routes of the session service."""
