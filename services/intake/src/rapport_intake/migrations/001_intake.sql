-- Intake service state: clinicians, clients (minimum necessary: no names, no notes), care assignments
-- and completed intake questionnaires. Events about these rows go through the common outbox.
CREATE TABLE clinicians (
    clinician_id   text        PRIMARY KEY,
    display_name   text        NOT NULL,
    timezone       text        NOT NULL,
    working_hours  jsonb       NOT NULL,
    supervisor_id  text,
    registered_by  text        NOT NULL,
    registered_at  timestamptz NOT NULL
);
CREATE INDEX clinicians_supervisor_idx ON clinicians (supervisor_id);

CREATE TABLE clients (
    client_id      text        PRIMARY KEY,
    age_band       text        NOT NULL CHECK (age_band IN ('adult', 'adolescent', 'child')),
    timezone       text        NOT NULL,
    clinician_id   text        REFERENCES clinicians (clinician_id),  -- clinician of record (current)
    assigned_at    timestamptz,
    registered_by  text        NOT NULL,
    registered_at  timestamptz NOT NULL
);
CREATE INDEX clients_clinician_idx ON clients (clinician_id);

-- Every assignment ever made; the open one (ended_at IS NULL) matches clients.clinician_id.
CREATE TABLE care_assignments (
    id             bigserial   PRIMARY KEY,
    client_id      text        NOT NULL REFERENCES clients (client_id),
    clinician_id   text        NOT NULL REFERENCES clinicians (clinician_id),
    assigned_at    timestamptz NOT NULL,
    assigned_by    text        NOT NULL,
    ended_at       timestamptz
);
CREATE UNIQUE INDEX care_assignments_open_idx ON care_assignments (client_id) WHERE ended_at IS NULL;

-- One intake per client. Concerns and goals are the client's words: they stay here and in the
-- `completed` event's lists, never in logs or other events.
CREATE TABLE intakes (
    intake_id             text        PRIMARY KEY,
    client_id             text        NOT NULL UNIQUE REFERENCES clients (client_id),
    presenting_concerns   jsonb       NOT NULL,
    goals                 jsonb       NOT NULL,
    ors_response_id       text,
    ors_items             jsonb,
    ors_total_tenths      integer     CHECK (ors_total_tenths BETWEEN 0 AND 400),
    completed_by          text        NOT NULL,
    completed_at          timestamptz NOT NULL,
    -- the clinician the baseline `ors-submitted` was published for (NULL: not yet, waiting for assignment)
    baseline_clinician_id text
);
