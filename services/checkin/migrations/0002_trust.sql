-- Pseudonyms that stay pseudonymous, per-person data keys, the audit trail and erasures.
--
-- New subject ids are random (the vault is the only link to a person); subject ids made
-- before this migration were derived from the person id with a keyed HMAC and stay valid:
-- destroy that key (KINSHIP_PSEUDONYM_KEY) once every service runs this version.

CREATE UNIQUE INDEX IF NOT EXISTS pseudonyms_one_per_person ON pseudonyms (person_id);

-- A person's data key (AES-256), wrapped with a note master key; notes are sealed with it.
-- Erasure deletes the row: every copy of the person's notes, backups included, is shredded.
CREATE TABLE person_keys (
    subject_id text PRIMARY KEY,
    master_key_id text NOT NULL,
    wrapped_key bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Notes sealed before this migration use a master key directly; new ones a person's key.
ALTER TABLE checkins ADD COLUMN note_per_person boolean NOT NULL DEFAULT false;

-- Who resolved or revealed whom, when, and why (the caller and, separately, whom it concerns).
CREATE TABLE audit (
    seq bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    action text NOT NULL,
    actor text NOT NULL,
    subject_id text,
    case_id text,
    detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_by_subject ON audit (subject_id) WHERE subject_id IS NOT NULL;

-- Erasures: never the person's id, only who asked (their kind) and how far each service got.
CREATE TABLE erasures (
    erasure_id text PRIMARY KEY,
    requested_at timestamptz NOT NULL,
    requested_by text NOT NULL,
    erased_at timestamptz,
    subjects integer
);

CREATE TABLE erasure_receipts (
    erasure_id text NOT NULL,
    service text NOT NULL,
    completed_at timestamptz NOT NULL,
    removed jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (erasure_id, service)
);
