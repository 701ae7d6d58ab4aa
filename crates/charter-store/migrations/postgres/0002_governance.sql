-- Governance: projects, policies and their versions, bundles, evidence answers,
-- attachments, approvals, findings, waivers, tasks. PostgreSQL dialect.

CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL UNIQUE,
    description TEXT NOT NULL,
    created_by  TEXT NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL
);

CREATE TABLE project_members (
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    added_at   BIGINT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user ON project_members (user_id);

CREATE TABLE policies (
    id          TEXT PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL UNIQUE,
    description TEXT NOT NULL,
    created_by  TEXT NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL
);

CREATE TABLE policy_versions (
    id           TEXT PRIMARY KEY,
    policy_id    TEXT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    version      BIGINT NOT NULL,
    status       TEXT NOT NULL,
    yaml         TEXT NOT NULL,
    yaml_sha256  TEXT NOT NULL,
    created_by   TEXT NOT NULL REFERENCES users (id),
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    published_by TEXT,
    published_at BIGINT,
    retired_at   BIGINT,
    UNIQUE (policy_id, version)
);

CREATE TABLE bundles (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects (id),
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    state       TEXT NOT NULL,
    copied_from TEXT REFERENCES bundles (id),
    created_by  TEXT NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (project_id, name)
);
CREATE INDEX bundles_state ON bundles (state);

CREATE TABLE bundle_policies (
    bundle_id         TEXT NOT NULL REFERENCES bundles (id) ON DELETE CASCADE,
    policy_id         TEXT NOT NULL REFERENCES policies (id),
    policy_version_id TEXT NOT NULL REFERENCES policy_versions (id),
    current_stage     TEXT NOT NULL,
    classification    TEXT,
    added_at          BIGINT NOT NULL,
    PRIMARY KEY (bundle_id, policy_id)
);
CREATE INDEX bundle_policies_version ON bundle_policies (policy_version_id);

CREATE TABLE answers (
    id            TEXT PRIMARY KEY,
    bundle_id     TEXT NOT NULL REFERENCES bundles (id) ON DELETE CASCADE,
    policy_id     TEXT NOT NULL,
    input_id      TEXT NOT NULL,
    stage         TEXT NOT NULL,
    revision      BIGINT NOT NULL,
    value         TEXT NOT NULL,
    answered_by   TEXT NOT NULL REFERENCES users (id),
    answered_at   BIGINT NOT NULL,
    carried_from  TEXT,
    carried_over  BIGINT NOT NULL DEFAULT 0,
    UNIQUE (bundle_id, policy_id, input_id, revision)
);
CREATE INDEX answers_latest ON answers (bundle_id, policy_id, input_id, revision);

CREATE TABLE attachments (
    id          TEXT PRIMARY KEY,
    bundle_id   TEXT NOT NULL REFERENCES bundles (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    reference   TEXT NOT NULL,
    blob_key    TEXT,
    sha256      TEXT,
    size        BIGINT,
    copied_from TEXT,
    created_by  TEXT NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL
);
CREATE INDEX attachments_bundle ON attachments (bundle_id);

CREATE TABLE approvals (
    id           TEXT PRIMARY KEY,
    bundle_id    TEXT NOT NULL REFERENCES bundles (id) ON DELETE CASCADE,
    policy_id    TEXT NOT NULL,
    stage        TEXT NOT NULL,
    name         TEXT NOT NULL,
    status       TEXT NOT NULL,
    approvers    TEXT NOT NULL,
    requested_by TEXT,
    requested_at BIGINT,
    decided_by   TEXT,
    decided_at   BIGINT,
    comment      TEXT NOT NULL DEFAULT '',
    signoff      TEXT NOT NULL DEFAULT '{}',
    expires_at   BIGINT,
    version      BIGINT NOT NULL DEFAULT 0,
    UNIQUE (bundle_id, policy_id, name)
);
CREATE INDEX approvals_status ON approvals (status);

CREATE TABLE findings (
    id           TEXT PRIMARY KEY,
    bundle_id    TEXT NOT NULL REFERENCES bundles (id) ON DELETE CASCADE,
    policy_id    TEXT NOT NULL,
    stage        TEXT NOT NULL,
    approval_id  TEXT REFERENCES approvals (id),
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    severity     TEXT NOT NULL,
    status       TEXT NOT NULL,
    assignee_id  TEXT REFERENCES users (id),
    approver_id  TEXT REFERENCES users (id),
    due_at       BIGINT,
    resolution   TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL REFERENCES users (id),
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX findings_bundle ON findings (bundle_id);
CREATE INDEX findings_status ON findings (status, severity);

CREATE TABLE finding_comments (
    id         TEXT PRIMARY KEY,
    finding_id TEXT NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    author_id  TEXT NOT NULL REFERENCES users (id),
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE waivers (
    id            TEXT PRIMARY KEY,
    bundle_id     TEXT NOT NULL REFERENCES bundles (id) ON DELETE CASCADE,
    finding_id    TEXT REFERENCES findings (id),
    justification TEXT NOT NULL,
    approver_id   TEXT NOT NULL REFERENCES users (id),
    status        TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    created_by    TEXT NOT NULL REFERENCES users (id),
    created_at    BIGINT NOT NULL
);

CREATE TABLE tasks (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    bundle_id   TEXT REFERENCES bundles (id) ON DELETE CASCADE,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    title       TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    done_at     BIGINT
);
CREATE INDEX tasks_user ON tasks (user_id, status);
