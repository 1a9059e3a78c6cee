"""Compliance exports of the ledger and consents: CSV and FHIR R4B."""
