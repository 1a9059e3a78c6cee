"""Rapport consent service: scoped consents, a hash-chained append-only ledger, compliance audit and export.

Endpoints (see ``api/``): ``GET /consents/documents[/{scope}/{version}]``, ``POST /consents/documents``
(publish a new version; role ``service``), ``POST /consents`` (grant),
``POST /consents/{id}/revoke``, ``GET /consents/{id}``, ``GET /clients/{id}/consents?at=`` (point in
time), ``GET /consents/check?client_id=&scope=&at=`` (fast check for other services),
``GET /consents/stats`` (counts for operators), and for compliance ``GET /compliance/ledger``,
``/compliance/ledger/verify``, ``/compliance/ledger/export.csv``, ``/compliance/export/fhir``.

Decisions worth knowing:

- **History is facts, never edits.** A grant row is never changed; a revocation and an expiry are rows of
  their own. Triggers refuse UPDATE/DELETE/TRUNCATE on documents, consents, revocations, expiries and
  the ledger for every role. No backdating beyond ``CONSENT_BACKDATE_TOLERANCE_S`` (clock skew, default
  300 s) for ``valid_from`` and ``effective_at``: a backdated fact would change point-in-time answers
  already given.
- **Who grants.** Tokens have no guardian role, so: a ``client`` token grants for itself by e-signature
  (adults only); the ``service`` role (the signing portal that authenticated the signer) records an
  e-signature for a named consenter, client or guardian; a ``clinician`` assigned to the client records
  verbal consent (``verbal-witnessed``) from the client or guardian, with a witness who is neither. In
  the event, ``granted_by`` is the consenter for e-signatures and the recording clinician
  (role ``clinician``) for verbal consent; the consenter and witness are in the consent and the ledger.
  Minors (age band ``child``/``adolescent``) need a guardian consenter; adults consent for themselves.
- **Fail closed on unknown age band.** The age band comes only from ``intake.events``
  (``client-registered``); until it is known a grant is refused with 409 and ``Retry-After: 1``, never
  guessed. This is the service's only "retry later" 409 (concurrent idempotent retries and ledger appends
  wait on locks instead); the other 409s are permanent conflicts and carry no ``Retry-After``.
- **Revocation** by the client themself (a minor may always withdraw), by the clinician of record, or by
  the signing service for a named client/guardian. Pending or active consents can be revoked once.
- **Documents.** A changed text is a new (scope, version) row, published with ``POST /consents/documents``
  (or seeded by migration); its sha256 is computed by the database. A grant records the version and
  hash it refers to: the one named, or the latest published (by publication order, ``published_seq``).
- **Overlapping grants** of one scope are allowed (re-consent to a new document version); the scope is
  active while any of them is.
- **Part 2** (``sud-part2-disclosure``): written only (e-signature) and every 42 CFR 2.31 element is
  required (see ``schemas.Part2Elements``); ``part2.expires_at`` becomes ``valid_until``.
- **Ledger.** One chain per database: appends take a transaction advisory lock (and ``prev_hash`` is
  UNIQUE), in the transaction of the action with its outbox event. Compliance reads are ledgered before
  the data is read (fail closed). The check endpoint is not ledgered: it is the service-to-service hot
  path and returns no consent content.
"""
