-- The console owns sessions only. id_hash is the SHA-256 of the cookie's random id; sealed is
-- the session data (tokens, CSRF token, sign-in state) under AES-256-GCM; key_id names the key.

CREATE TABLE sessions (
    id_hash bytea PRIMARY KEY,
    sealed bytea NOT NULL,
    key_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_last_seen_at ON sessions (last_seen_at);
