-- Alliance-monitor state: the domain's three JSON documents (client, clinician, pair) in jsonb rows.
CREATE TABLE client_states (
    client_id     text PRIMARY KEY,
    clinician_id  text,
    state         jsonb       NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE clinician_states (
    clinician_id  text PRIMARY KEY,
    -- copied out of the state so supervisors' alert queries can join on it
    supervisor_id text,
    state         jsonb       NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clinician_states_supervisor_idx ON clinician_states (supervisor_id);

CREATE TABLE pair_states (
    client_id     text        NOT NULL,
    clinician_id  text        NOT NULL,
    state         jsonb       NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, clinician_id)
);

-- Events whose consent may still arrive (DOMAIN.md): held durably, re-decided on a consent event for the
-- client or when expires_at (processing time) passes. Never dropped: a row leaves only by being evaluated.
CREATE TABLE consent_holds (
    seq           bigserial   PRIMARY KEY,
    event_id      text        NOT NULL UNIQUE,
    client_id     text        NOT NULL,
    event_type    text        NOT NULL,
    event         bytea       NOT NULL,
    held_at       timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX consent_holds_client_idx ON consent_holds (client_id, seq);
CREATE INDEX consent_holds_expiry_idx ON consent_holds (expires_at);

-- Alerts: the current view of each alert; alert_history is its append-only story.
CREATE TABLE alerts (
    alert_id        text PRIMARY KEY,
    rule            text        NOT NULL,
    category        text        NOT NULL,
    severity        text        NOT NULL,
    audience        text        NOT NULL,
    live            boolean     NOT NULL DEFAULT false,
    client_id       text        NOT NULL,
    clinician_id    text        NOT NULL,
    session_id      text,
    summary         text        NOT NULL,
    evidence        text[]      NOT NULL,
    status          text        NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'acknowledged', 'resolved')),
    raised_at       timestamptz NOT NULL,
    stored_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    acknowledged_by text,
    acknowledged_at timestamptz,
    resolved_by     text,
    resolved_at     timestamptz,
    resolution      text
);
CREATE INDEX alerts_clinician_idx ON alerts (clinician_id, raised_at DESC);
CREATE INDEX alerts_client_idx ON alerts (client_id, raised_at DESC);
CREATE INDEX alerts_audience_idx ON alerts (audience, status, raised_at DESC);

CREATE TABLE alert_history (
    id           bigserial   PRIMARY KEY,
    alert_id     text        NOT NULL REFERENCES alerts (alert_id),
    action       text        NOT NULL CHECK (action IN ('raised', 'updated', 'acknowledged', 'resolved')),
    by           text        NOT NULL,
    at           timestamptz NOT NULL,
    note         text,
    summary      text,
    evidence     text[]      NOT NULL DEFAULT '{}',
    recorded_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX alert_history_alert_idx ON alert_history (alert_id, id);

CREATE FUNCTION alert_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'alert_history is append-only';
END $$;

CREATE TRIGGER alert_history_no_update BEFORE UPDATE OR DELETE ON alert_history
    FOR EACH ROW EXECUTE FUNCTION alert_history_append_only();
CREATE TRIGGER alert_history_no_truncate BEFORE TRUNCATE ON alert_history
    FOR EACH STATEMENT EXECUTE FUNCTION alert_history_append_only();

-- Live alerts: every instance LISTENs; the payload is only a wake-up with the newest history id.
CREATE FUNCTION alert_history_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rapport_alliance_alerts', NEW.id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER alert_history_notify_after_insert AFTER INSERT ON alert_history
    FOR EACH ROW EXECUTE FUNCTION alert_history_notify();

-- The trend charts: every analysed SRS/ORS of a pair, and the pair's session starts (session numbers).
CREATE TABLE score_points (
    event_id      text PRIMARY KEY,
    client_id     text        NOT NULL,
    clinician_id  text        NOT NULL,
    scale         text        NOT NULL CHECK (scale IN ('srs', 'ors')),
    session_id    text,
    at            timestamptz NOT NULL,
    total_tenths  integer     NOT NULL
);
CREATE INDEX score_points_pair_idx ON score_points (client_id, clinician_id, scale, at);

CREATE TABLE session_starts (
    client_id     text        NOT NULL,
    clinician_id  text        NOT NULL,
    session_id    text        NOT NULL,
    started_at    timestamptz NOT NULL,
    PRIMARY KEY (client_id, clinician_id, session_id)
);
