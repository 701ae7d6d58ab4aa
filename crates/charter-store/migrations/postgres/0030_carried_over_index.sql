-- Carried-over answers waiting to be confirmed are few among many answers; task
-- lists find them through this partial index instead of reading every answer.
CREATE INDEX answers_carried ON answers (bundle_id, policy_id) WHERE carried_over = 1;
