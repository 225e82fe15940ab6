-- Kudos, check-in weeks, awards, the directory view and the outbox of the recognition service.

CREATE TABLE people (
    person_id text PRIMARY KEY,
    subject_id text NOT NULL,
    timezone text NOT NULL,
    team_id text NOT NULL,
    active boolean NOT NULL
);
CREATE INDEX people_by_subject ON people (subject_id);

CREATE TABLE kudos (
    id text PRIMARY KEY,
    from_person_id text NOT NULL,
    to_person_id text NOT NULL,
    message text NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kudos_by_sender ON kudos (from_person_id, received_at);
CREATE INDEX kudos_by_recipient ON kudos (to_person_id);

CREATE TABLE checkin_weeks (
    subject_id text NOT NULL,
    week_start date NOT NULL,
    PRIMARY KEY (subject_id, week_start)
);

CREATE TABLE awards (
    id text PRIMARY KEY,
    kind text NOT NULL,
    person_id text,
    subject_id text,
    count integer,
    awarded_at timestamptz NOT NULL DEFAULT now()
);

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
