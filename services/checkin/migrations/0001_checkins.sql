-- Check-ins and the pseudonym vault of the check-in service (the runtime's migrations add the
-- outbox and the directory projection).

CREATE TABLE pseudonyms (
    subject_id text PRIMARY KEY,
    person_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE checkins (
    id text PRIMARY KEY,
    subject_id text NOT NULL,
    team_id text,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    source text NOT NULL,
    mood smallint,
    stress smallint,
    energy smallint,
    who5 smallint[],
    phq9 smallint[],
    phq2 smallint[],
    wants_contact boolean NOT NULL,
    who5_raw smallint,
    who5_percent smallint,
    phq9_total smallint,
    phq9_item9_positive boolean,
    phq2_total smallint,
    note_ciphertext bytea,
    note_key_id text
);
CREATE INDEX checkins_subject_occurred ON checkins (subject_id, occurred_at);
CREATE INDEX checkins_team_occurred ON checkins (team_id, occurred_at) WHERE team_id IS NOT NULL;
