-- A responder's (or coordinator's) "away until" (issue 13): while away they are not alerted,
-- exactly like rest after a critical case, and it ends by itself at away_until. Erasure
-- deletes the row.
CREATE TABLE responder_away (
    person_id text PRIMARY KEY,
    away_until timestamptz NOT NULL
);
