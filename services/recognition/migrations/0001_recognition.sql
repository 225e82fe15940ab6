-- Kudos, check-in weeks, awards and the (former) directory view of the recognition service
-- (the runtime's migrations add the outbox; 0004 moves `people` into `directory_people`).

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
