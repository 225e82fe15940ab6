-- Working a case (issue 12): people's outreach preferences by subject id, each case's
-- consent and working state, private notes sealed under a data key per subject, which
-- observed check-ins' notes the person shared, and why each alert was sent.

-- From privacy.outreach.preferences (the check-in service's): by subject id only.
CREATE TABLE outreach_preferences (
    subject_id text PRIMARY KEY,
    preference text NOT NULL,
    chosen_by text,
    updated_at timestamptz
);

CREATE TABLE case_work (
    case_id text PRIMARY KEY REFERENCES cases (id),
    consent text NOT NULL,
    consent_id text UNIQUE,
    consent_expires_at timestamptz,
    consent_answered_at timestamptz,
    contact_channel text,
    follow_up_at timestamptz,
    resolutions integer NOT NULL DEFAULT 0,
    reopened integer NOT NULL DEFAULT 0
);

-- A data key per subject, wrapped with a master key (KINSHIP_CASE_NOTE_KEYS); erasure
-- deletes it, and every copy of the notes sealed under it is unreadable from then on.
CREATE TABLE subject_keys (
    subject_id text PRIMARY KEY,
    master_key_id text NOT NULL,
    wrapped_key bytea NOT NULL
);

CREATE TABLE case_notes (
    id text PRIMARY KEY,
    case_id text NOT NULL REFERENCES cases (id),
    kind text NOT NULL,
    author text NOT NULL,
    written_at timestamptz NOT NULL,
    sealed bytea NOT NULL
);
CREATE INDEX case_notes_by_case ON case_notes (case_id, written_at);

ALTER TABLE observations ADD COLUMN note_shared boolean NOT NULL DEFAULT false;

ALTER TABLE alerts ADD COLUMN purpose text NOT NULL DEFAULT 'page';

-- A case's timeline reads the records of lists that named it too.
CREATE INDEX case_audit_by_cases ON case_audit USING gin (case_ids);
