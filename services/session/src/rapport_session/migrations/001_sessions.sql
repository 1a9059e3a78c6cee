-- Session service state. Events go through the common outbox in the same transactions.

-- Care assignments and clients' age bands, learned from intake.events (authorisation, ORS age band).
CREATE TABLE assignments (
    client_id     text        PRIMARY KEY,
    clinician_id  text        NOT NULL,
    assigned_at   timestamptz NOT NULL
);
CREATE INDEX assignments_clinician_idx ON assignments (clinician_id);

CREATE TABLE clients (
    client_id  text PRIMARY KEY,
    age_band   text NOT NULL CHECK (age_band IN ('adult', 'adolescent', 'child'))
);

CREATE TABLE sessions (
    session_id            text        PRIMARY KEY,
    client_id             text        NOT NULL,
    clinician_id          text        NOT NULL,
    modality              text        NOT NULL CHECK (modality IN ('video', 'audio', 'chat')),
    scheduled_start       timestamptz NOT NULL,
    scheduled_end         timestamptz NOT NULL CHECK (scheduled_end > scheduled_start),
    status                text        NOT NULL DEFAULT 'scheduled'
                          CHECK (status IN ('scheduled', 'running', 'ended', 'cancelled', 'no-show')),
    started_at            timestamptz,
    ended_at              timestamptz,
    ended_by              text,
    cancelled_at          timestamptz,
    cancelled_by          text,
    late                  boolean,
    no_show_at            timestamptz,
    client_joined_at      timestamptz,
    client_present        boolean     NOT NULL DEFAULT false,
    clinician_present     boolean     NOT NULL DEFAULT false,
    recording_started_at  timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_client_idx ON sessions (client_id, scheduled_start);
CREATE INDEX sessions_clinician_idx ON sessions (clinician_id, scheduled_start);

-- Durable timers: polled by the timer job, so they survive a restart. One row per session and kind.
CREATE TABLE session_timers (
    session_id  text        NOT NULL REFERENCES sessions (session_id),
    kind        text        NOT NULL CHECK (kind IN ('no-show', 'overrun')),
    due_at      timestamptz NOT NULL,
    fired       integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, kind)
);
CREATE INDEX session_timers_due_idx ON session_timers (due_at);

CREATE TABLE telemetry_windows (
    session_id              text        NOT NULL,
    window_start            timestamptz NOT NULL,
    window_end              timestamptz NOT NULL,
    client_talk_ratio       real        NOT NULL,
    client_camera_on_ratio  real        NOT NULL,
    longest_silence_s       real        NOT NULL,
    event_id                text        NOT NULL,
    received_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, window_start)
);

CREATE TABLE messages (
    message_id    text        PRIMARY KEY,
    client_id     text        NOT NULL,
    clinician_id  text        NOT NULL,
    sender        text        NOT NULL CHECK (sender IN ('client', 'clinician')),
    body          text        NOT NULL,
    flags         text[]      NOT NULL DEFAULT '{}',
    scanned       boolean     NOT NULL,
    sent_at       timestamptz NOT NULL
);
CREATE INDEX messages_pair_idx ON messages (client_id, clinician_id, sent_at);

CREATE TABLE feedback_responses (
    response_id   text        PRIMARY KEY,
    instrument    text        NOT NULL CHECK (instrument IN ('srs', 'ors', 'pulse', 'wai')),
    client_id     text        NOT NULL,
    clinician_id  text        NOT NULL,
    session_id    text        REFERENCES sessions (session_id),
    payload       jsonb       NOT NULL,
    submitted_at  timestamptz NOT NULL
);
CREATE INDEX feedback_session_idx ON feedback_responses (session_id, instrument);
