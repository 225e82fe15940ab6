-- Dead letters are sealed, each with a key of its own, stored here wrapped with the service's
-- dead-letter key and linked to the people it concerns: erasing a person deletes the keys of
-- their dead letters (crypto-shredding every copy on Kafka and in backups of the topic); keys
-- also expire with the dead-letter topics' retention (see kinship_runtime.dead_letters).

CREATE TABLE IF NOT EXISTS dead_letter_keys (
    key_id text PRIMARY KEY,
    wrapped_key bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letter_keys_expiry ON dead_letter_keys (expires_at);

CREATE TABLE IF NOT EXISTS dead_letter_key_people (
    key_id text NOT NULL REFERENCES dead_letter_keys (key_id) ON DELETE CASCADE,
    person_ref text NOT NULL,
    PRIMARY KEY (key_id, person_ref)
);
CREATE INDEX IF NOT EXISTS dead_letter_key_people_by_ref ON dead_letter_key_people (person_ref);
