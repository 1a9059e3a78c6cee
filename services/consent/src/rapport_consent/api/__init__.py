"""HTTP routes of the consent service."""
