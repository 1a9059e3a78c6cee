"""Rapport web consoles: clinician, compliance and operator pages behind one origin.

The console serves static pages and forwards ``/api/<service>/...`` to the service that owns the data,
with the caller's bearer token untouched; it holds no data and authorises nothing itself (except its own
``/ops/summary``, which is for operators).
"""
