-- The teams a team manager reads aggregate trends of (directory.people `manages`).

ALTER TABLE directory_people ADD COLUMN IF NOT EXISTS manages text[] NOT NULL DEFAULT '{}';
