-- Separation of duties: per policy, users an admin allows to decide approvals
-- despite having created the bundle or answered the stage's evidence. PostgreSQL dialect.

CREATE TABLE sod_exemptions (
    policy_id  TEXT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason     TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (policy_id, user_id)
);
CREATE INDEX answers_stage ON answers (bundle_id, policy_id, stage);
CREATE INDEX findings_approval ON findings (approval_id);
