-- The directory moves to the runtime's projection, `directory_people` (created by the
-- runtime's migration before this one): the rows kept so far are copied, roles rebuilt from
-- the two flags, so that nobody has to re-read the compacted `directory.people` topic.

INSERT INTO directory_people (person_id, team_id, timezone, roles, active, subject_id, updated_at)
SELECT person_id, team_id, timezone,
       array_remove(ARRAY[CASE WHEN responder THEN 'peer_responder' END,
                          CASE WHEN coordinator THEN 'coordinator' END], NULL),
       active, subject_id, updated_at
FROM directory
ON CONFLICT (person_id) DO NOTHING;

DROP TABLE directory;
