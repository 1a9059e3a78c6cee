-- Publishing consent documents through the API (POST /consents/documents) instead of migrations.
-- Rows already in consent_documents and ledger_entries are only read here (ALTER TABLE fires no row
-- triggers), so the append-only history is untouched.

-- Publication order. "The latest version of a scope" is the one published last; published_at is a
-- transaction start time (two overlapping publications could commit in the other order) and version
-- labels are text ('10' < '9'), so neither can say which is newest. Publications of one scope are
-- serialised (advisory lock in the API), so this sequence follows their commit order.
ALTER TABLE consent_documents ADD COLUMN published_seq bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE consent_documents ADD CONSTRAINT consent_documents_published_seq_key UNIQUE (published_seq);
CREATE INDEX consent_documents_latest_idx ON consent_documents (scope, published_seq DESC);

-- A version label goes into URLs (/consents/documents/{scope}/{version}) and into the FHIR policy URI
-- (urn:rapport:consent-document:{scope}:{version}:sha256:...): URL-safe, no ':'. A text is never empty.
ALTER TABLE consent_documents ADD CONSTRAINT consent_documents_version_label
    CHECK (version ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$');
ALTER TABLE consent_documents ADD CONSTRAINT consent_documents_body_not_blank CHECK (body ~ '[^[:space:]]');

-- The ledger's action vocabulary, now written down in the database (it was only in the code):
-- the three consent facts, compliance reads, and the new publication of a document version.
-- A new action is a new migration replacing this constraint (rapport_consent.domain.ledger.ACTIONS).
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_action_known CHECK (action IN (
    'consent.granted', 'consent.revoked', 'consent.expired', 'compliance.read', 'document.published'));
