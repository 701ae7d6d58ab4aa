-- Metrics checks: a policy's `modelmetric` thresholds evaluated against the metrics
-- of a registered model version attached to a bundle. PostgreSQL dialect.
CREATE TABLE metric_checks (
    id          TEXT PRIMARY KEY,
    bundle_id   TEXT NOT NULL REFERENCES bundles (id) ON DELETE CASCADE,
    policy_id   TEXT NOT NULL,
    stage       TEXT NOT NULL,
    check_id    TEXT NOT NULL,
    metric      TEXT NOT NULL,
    matched_key TEXT,
    model       TEXT NOT NULL,
    version     BIGINT NOT NULL,
    value       DOUBLE PRECISION,
    operator    TEXT,
    threshold   DOUBLE PRECISION,
    outcome     TEXT NOT NULL,
    finding_id  TEXT,
    checked_at  BIGINT NOT NULL
);
CREATE INDEX metric_checks_bundle ON metric_checks (bundle_id, checked_at);
