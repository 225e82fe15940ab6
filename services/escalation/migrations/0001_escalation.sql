-- Detection state, cases, alerts, durable timers and policies of the escalation service (the
-- runtime's migrations add the outbox and processed events). People appear only as
-- pseudonymous subject ids, except directory staff roles (responders and coordinators), who
-- are alerted by person_id.

CREATE TABLE observations (
    id text PRIMARY KEY,
    subject_id text NOT NULL,
    team_id text,
    at timestamptz NOT NULL,
    mood smallint,
    stress smallint,
    energy smallint,
    who5_raw smallint,
    phq9_total smallint,
    phq2_total smallint,
    item9_positive boolean NOT NULL,
    wants_contact boolean NOT NULL
);
CREATE INDEX observations_by_subject ON observations (subject_id, at);

CREATE TABLE directory (
    person_id text PRIMARY KEY,
    subject_id text NOT NULL,
    team_id text NOT NULL,
    timezone text NOT NULL,
    responder boolean NOT NULL,
    coordinator boolean NOT NULL,
    active boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX directory_by_subject ON directory (subject_id);

CREATE TABLE cases (
    id text PRIMARY KEY,
    subject_id text NOT NULL,
    team_id text,
    status text NOT NULL,
    severity text NOT NULL,
    rules text[] NOT NULL,
    observation_ids text[] NOT NULL,
    step integer NOT NULL,
    attempt integer NOT NULL,
    responder_id text,
    alerted text[] NOT NULL DEFAULT '{}',
    opened_at timestamptz NOT NULL,
    assigned_at timestamptz,
    acknowledged_at timestamptz,
    contacted_at timestamptz,
    resolved_at timestamptz,
    outcome text,
    sequence integer NOT NULL,
    policy jsonb NOT NULL
);
-- One open case per person at a time, even with several replicas racing.
CREATE UNIQUE INDEX one_open_case_per_subject ON cases (subject_id) WHERE status <> 'resolved';
CREATE INDEX cases_by_responder ON cases (responder_id) WHERE status <> 'resolved';

CREATE TABLE case_audit (
    seq bigserial PRIMARY KEY,
    case_id text NOT NULL,
    action text NOT NULL,
    actor text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    sequence integer
);
CREATE INDEX case_audit_by_case ON case_audit (case_id, seq);

CREATE TABLE feedback (
    case_id text NOT NULL,
    given_by text NOT NULL,
    score smallint NOT NULL,
    at timestamptz NOT NULL,
    PRIMARY KEY (case_id, given_by)
);

CREATE TABLE alerts (
    id text PRIMARY KEY,
    case_id text NOT NULL REFERENCES cases (id),
    recipient_id text NOT NULL,
    step integer NOT NULL,
    attempt integer NOT NULL,
    sent_at timestamptz NOT NULL,
    link_used_at timestamptz,
    failed_at timestamptz
);
CREATE INDEX alerts_by_case ON alerts (case_id);

CREATE TABLE timers (
    id text PRIMARY KEY,
    kind text NOT NULL,
    due_at timestamptz NOT NULL,
    case_id text,
    subject_id text,
    team_id text,
    payload jsonb NOT NULL DEFAULT '{}',
    fired_at timestamptz
);
CREATE INDEX timers_due ON timers (due_at) WHERE fired_at IS NULL;

CREATE TABLE responder_rest (
    person_id text PRIMARY KEY,
    resting_until timestamptz NOT NULL
);

CREATE TABLE distress_marks (
    team_id text NOT NULL,
    subject_id text NOT NULL,
    at timestamptz NOT NULL,
    PRIMARY KEY (team_id, subject_id, at)
);

CREATE TABLE self_care_sent (
    subject_id text PRIMARY KEY,
    sent_at timestamptz NOT NULL
);

CREATE TABLE group_offers (
    id text PRIMARY KEY,
    team_id text NOT NULL,
    reason text NOT NULL,
    kind text NOT NULL,
    proposed_at timestamptz NOT NULL
);
CREATE INDEX group_offers_by_team ON group_offers (team_id, reason, proposed_at);

CREATE TABLE rotations (
    name text PRIMARY KEY,
    body jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE policies (
    name text PRIMARY KEY,
    body jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
