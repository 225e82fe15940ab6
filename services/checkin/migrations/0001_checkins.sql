-- Check-ins, the pseudonym vault, the directory view and the outbox of the check-in service.

CREATE TABLE pseudonyms (
    subject_id text PRIMARY KEY,
    person_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE directory_people (
    person_id text PRIMARY KEY,
    team_id text NOT NULL,
    timezone text NOT NULL,
    roles text[] NOT NULL DEFAULT '{}',
    active boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
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

CREATE TABLE outbox (
    seq bigserial PRIMARY KEY,
    event_id text NOT NULL,
    topic text NOT NULL,
    key bytea,
    value bytea NOT NULL,
    headers jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kinship_outbox', TG_TABLE_SCHEMA);
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION notify_outbox();
