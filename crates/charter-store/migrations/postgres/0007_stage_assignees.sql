-- Who works on each stage of a policy on a bundle (one assignee per stage).
CREATE TABLE stage_assignees (
    bundle_id   TEXT NOT NULL REFERENCES bundles (id) ON DELETE CASCADE,
    policy_id   TEXT NOT NULL,
    stage       TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    assigned_by TEXT NOT NULL REFERENCES users (id),
    assigned_at BIGINT NOT NULL,
    PRIMARY KEY (bundle_id, policy_id, stage)
);
