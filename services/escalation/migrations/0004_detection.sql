-- Explainable cases (issue 12): the detection rules version that judged a case's latest
-- evidence, and what each rule rested on, per rule and observation (dates and the scores
-- that mattered, never item answers or notes), kept as evidence accumulates.
ALTER TABLE cases ADD COLUMN rules_version text;

CREATE TABLE case_evidence (
    case_id text NOT NULL REFERENCES cases (id),
    rule text NOT NULL,
    ref text NOT NULL,
    checkin_id text,
    signal_kind text,
    observed_at timestamptz NOT NULL,
    scores jsonb NOT NULL,
    severity text NOT NULL,
    rules_version text NOT NULL,
    thresholds jsonb NOT NULL,
    recorded_at timestamptz NOT NULL,
    seq bigserial NOT NULL,
    PRIMARY KEY (case_id, rule, ref)
);

-- Load signals (overtime, on-call load, absence) by subject: kind, severity and time only
-- (a signal's id would lead back to the person it named).
CREATE TABLE signal_observations (
    seq bigserial PRIMARY KEY,
    subject_id text NOT NULL,
    kind text NOT NULL,
    severity smallint NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX signal_observations_by_subject ON signal_observations (subject_id, at);
