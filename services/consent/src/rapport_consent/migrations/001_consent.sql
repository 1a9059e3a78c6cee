-- Consent service schema. History tables (documents, consents, revocations, expiries, ledger) are
-- append-only: a trigger refuses UPDATE, DELETE and TRUNCATE for every role, superusers included
-- (only disabling the trigger, which a test does on purpose, gets past it; the hash chain then shows it).

CREATE FUNCTION consent_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % refused: consent history is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;

-- Versioned consent texts; a person agreed to (scope, version), identified by the text's sha256.
CREATE TABLE consent_documents (
    scope         text        NOT NULL,
    version       text        NOT NULL,
    title         text        NOT NULL,
    body          text        NOT NULL,
    content_hash  text        NOT NULL,
    published_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, version)
);

-- The hash is always computed by the database from the stored text (callers cannot supply another).
CREATE FUNCTION consent_document_hash() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.content_hash := encode(sha256(convert_to(NEW.body, 'UTF8')), 'hex');
    RETURN NEW;
END $$;
CREATE TRIGGER consent_documents_hash BEFORE INSERT ON consent_documents
    FOR EACH ROW EXECUTE FUNCTION consent_document_hash();

-- Projections learned from intake.events (mutable: they mirror another service's facts).
CREATE TABLE clients (
    client_id      text        PRIMARY KEY,
    age_band       text        NOT NULL CHECK (age_band IN ('adult', 'adolescent', 'child')),
    registered_at  timestamptz NOT NULL
);
CREATE TABLE assignments (
    client_id     text        PRIMARY KEY,
    clinician_id  text        NOT NULL,
    assigned_at   timestamptz NOT NULL
);

-- One row per grant; never changed. Revocation and expiry are separate facts in their own tables.
CREATE TABLE consents (
    consent_id        text        PRIMARY KEY,
    client_id         text        NOT NULL,
    scope             text        NOT NULL,
    document_version  text        NOT NULL,
    document_hash     text        NOT NULL,
    method            text        NOT NULL CHECK (method IN ('e-signature', 'verbal-witnessed')),
    granted_by_id     text        NOT NULL,
    granted_by_role   text        NOT NULL CHECK (granted_by_role IN ('client', 'guardian', 'clinician')),
    consenter_id      text        NOT NULL,
    consenter_role    text        NOT NULL CHECK (consenter_role IN ('client', 'guardian')),
    witness           jsonb,
    part2             jsonb,
    valid_from        timestamptz NOT NULL,
    valid_until       timestamptz CHECK (valid_until IS NULL OR valid_until > valid_from),
    recorded_at       timestamptz NOT NULL,
    recorded_by_id    text        NOT NULL,
    recorded_by_role  text        NOT NULL,
    FOREIGN KEY (scope, document_version) REFERENCES consent_documents (scope, version)
);
CREATE INDEX consents_client_scope_idx ON consents (client_id, scope, valid_from DESC);
CREATE INDEX consents_expiring_idx ON consents (valid_until) WHERE valid_until IS NOT NULL;

CREATE TABLE consent_revocations (
    consent_id       text        PRIMARY KEY REFERENCES consents (consent_id),
    effective_at     timestamptz NOT NULL,
    revoked_by_id    text        NOT NULL,
    revoked_by_role  text        NOT NULL,
    reason           text,
    recorded_at      timestamptz NOT NULL,
    recorded_by_id   text        NOT NULL,
    recorded_by_role text        NOT NULL
);

CREATE TABLE consent_expiries (
    consent_id   text        PRIMARY KEY REFERENCES consents (consent_id),
    expired_at   timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL
);

-- The hash-chained ledger: every consent action and every compliance read. `hash` is sha256 over the
-- canonical JSON of the entry (including prev_hash); UNIQUE (prev_hash) makes a fork impossible.
CREATE TABLE ledger_entries (
    seq         bigint      PRIMARY KEY CHECK (seq >= 1),
    entry_id    text        NOT NULL UNIQUE,
    at          timestamptz NOT NULL,
    actor_id    text        NOT NULL,
    actor_role  text        NOT NULL,
    action      text        NOT NULL,
    client_id   text,
    scope       text,
    consent_id  text,
    channel     text        NOT NULL,
    reason      text,
    request_id  text,
    details     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    prev_hash   text        NOT NULL UNIQUE,
    hash        text        NOT NULL UNIQUE
);
CREATE INDEX ledger_client_idx ON ledger_entries (client_id, seq);
CREATE INDEX ledger_actor_idx ON ledger_entries (actor_id, seq);
CREATE INDEX ledger_at_idx ON ledger_entries (at);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['consent_documents', 'consents', 'consent_revocations', 'consent_expiries',
                             'ledger_entries']
    LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW '
                       'EXECUTE FUNCTION consent_refuse_change()', t || '_no_rewrite', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT '
                       'EXECUTE FUNCTION consent_refuse_change()', t || '_no_truncate', t);
        EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %I FROM PUBLIC', t);
    END LOOP;
END $$;
