-- The case view's deadlines (when the current step's acknowledgement timeout and the
-- contact timeout fire) come from each case's pending timers.
CREATE INDEX timers_pending_by_case ON timers (case_id) WHERE fired_at IS NULL;
