-- The directory moves to the runtime's projection (`directory_people`, created by the runtime's
-- migrations, which run first): existing people are copied, so no consumer has to re-read the
-- compacted `directory.people` topic. Roles were never kept here: they stay empty until the
-- person's next directory record.

INSERT INTO directory_people (person_id, team_id, timezone, active, subject_id)
SELECT person_id, team_id, timezone, active, subject_id FROM people
ON CONFLICT (person_id) DO NOTHING;

DROP TABLE people;
