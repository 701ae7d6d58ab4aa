-- LLM telemetry (issue 6): spans received over OTLP with the columns Charter derives
-- from their OpenInference / OTel GenAI attributes, the resources that sent them,
-- feedback annotations, project ingest tokens, per-project settings (retention,
-- redaction) and monitors with their state changes. SQLite dialect.

-- A resource (service.name, openinference.project.name, …) is the same for every
-- span a process sends, so it is stored once, keyed by a hash of its JSON.
CREATE TABLE telemetry_resources (
    hash       TEXT PRIMARY KEY,
    attributes TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One row per span. No foreign key to projects: a span insert then checks nothing
-- but its own unique index (ingest speed), and projects are never deleted.
-- Times are nanoseconds since the epoch, as OTLP sends them.
CREATE TABLE telemetry_spans (
    project_id        TEXT NOT NULL,
    trace_id          TEXT NOT NULL,
    span_id           TEXT NOT NULL,
    parent_span_id    TEXT,
    name              TEXT NOT NULL,
    span_kind         TEXT NOT NULL,
    otel_kind         BIGINT NOT NULL,
    start_ns          BIGINT NOT NULL,
    end_ns            BIGINT NOT NULL,
    latency_ms        REAL NOT NULL,
    latency_bucket    BIGINT NOT NULL,
    status_code       BIGINT NOT NULL,
    status_message    TEXT NOT NULL,
    model             TEXT,
    provider          TEXT,
    prompt_tokens     BIGINT,
    completion_tokens BIGINT,
    total_tokens      BIGINT,
    cost_usd          REAL,
    input_value       TEXT,
    input_mime        TEXT,
    output_value      TEXT,
    output_mime       TEXT,
    session_id        TEXT,
    user_id           TEXT,
    documents         TEXT,
    attributes        TEXT NOT NULL,
    events            TEXT,
    links             TEXT,
    resource_hash     TEXT NOT NULL,
    scope_name        TEXT NOT NULL,
    scope_version     TEXT NOT NULL,
    trace_state       TEXT NOT NULL,
    dropped           TEXT,
    ingested_at       BIGINT NOT NULL
);
-- Idempotent ingest (a retried export changes nothing) and trace detail.
CREATE UNIQUE INDEX telemetry_spans_identity ON telemetry_spans (project_id, trace_id, span_id);
-- Span lists and windowed statistics, newest first.
CREATE INDEX telemetry_spans_time ON telemetry_spans (project_id, start_ns);
-- Trace lists: root spans only.
CREATE INDEX telemetry_spans_roots ON telemetry_spans (project_id, start_ns) WHERE parent_span_id IS NULL;
CREATE INDEX telemetry_spans_session ON telemetry_spans (project_id, session_id, start_ns) WHERE session_id IS NOT NULL;
-- Annotations name a span by its id alone (Phoenix's API).
CREATE INDEX telemetry_spans_span ON telemetry_spans (span_id);

CREATE TABLE telemetry_annotations (
    id             TEXT PRIMARY KEY,
    project_id     TEXT NOT NULL REFERENCES projects (id),
    trace_id       TEXT NOT NULL,
    -- Empty for an annotation of a whole trace.
    span_id        TEXT NOT NULL,
    name           TEXT NOT NULL,
    annotator_kind TEXT NOT NULL,
    label          TEXT,
    score          REAL,
    explanation    TEXT,
    metadata       TEXT NOT NULL,
    identifier     TEXT NOT NULL,
    negative       BIGINT NOT NULL,
    source         TEXT NOT NULL,
    created_by     TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX telemetry_annotations_identity
    ON telemetry_annotations (project_id, trace_id, span_id, name, identifier);
CREATE INDEX telemetry_annotations_time ON telemetry_annotations (project_id, created_at);

CREATE TABLE telemetry_ingest_tokens (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_by   TEXT NOT NULL REFERENCES users (id),
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX telemetry_ingest_tokens_project ON telemetry_ingest_tokens (project_id);

CREATE TABLE telemetry_settings (
    project_id          TEXT PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    retention_days      BIGINT,
    retention_max_spans BIGINT,
    redaction           TEXT NOT NULL,
    updated_by          TEXT NOT NULL REFERENCES users (id),
    updated_at          BIGINT NOT NULL,
    version             BIGINT NOT NULL
);

CREATE TABLE telemetry_monitors (
    id                TEXT PRIMARY KEY,
    project_id        TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    description       TEXT NOT NULL,
    expression        TEXT NOT NULL,
    span_kind         TEXT,
    window_secs       BIGINT NOT NULL,
    interval_secs     BIGINT NOT NULL,
    severity          TEXT NOT NULL,
    bundle_id         TEXT REFERENCES bundles (id),
    policy_id         TEXT,
    check_id          TEXT,
    recipients        TEXT NOT NULL,
    enabled           BIGINT NOT NULL,
    state             TEXT NOT NULL,
    state_since       BIGINT,
    last_evaluated_at BIGINT,
    next_due_at       BIGINT NOT NULL,
    last_stats        TEXT,
    last_error        TEXT,
    last_finding_id   TEXT,
    created_by        TEXT NOT NULL REFERENCES users (id),
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    version           BIGINT NOT NULL,
    UNIQUE (project_id, name)
);
CREATE INDEX telemetry_monitors_due ON telemetry_monitors (next_due_at);

-- Every change of a monitor's state, with the figures that caused it.
CREATE TABLE telemetry_monitor_events (
    id         INTEGER PRIMARY KEY,
    monitor_id TEXT NOT NULL REFERENCES telemetry_monitors (id) ON DELETE CASCADE,
    at         BIGINT NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    stats      TEXT NOT NULL,
    finding_id TEXT
);
CREATE INDEX telemetry_monitor_events_monitor ON telemetry_monitor_events (monitor_id, at);
