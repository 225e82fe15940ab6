-- Cases a responder supported and thanks they received (counts only, no case content).

CREATE TABLE supported_cases (
    case_id text PRIMARY KEY,
    responder_id text NOT NULL,
    resolved_at timestamptz NOT NULL
);
CREATE INDEX supported_cases_by_responder ON supported_cases (responder_id);
