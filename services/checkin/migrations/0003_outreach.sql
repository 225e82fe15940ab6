-- Each person's outreach preference, by subject id: their own choice wins over the directory's.

CREATE TABLE outreach (
    subject_id text PRIMARY KEY,
    preference text NOT NULL,
    chosen_by text NOT NULL CHECK (chosen_by IN ('person', 'directory')),
    updated_at timestamptz NOT NULL
);
