-- MLflow-compatible tracking and registry: experiments, runs, their metrics, params,
-- tags and inputs, logged models, registered models, versions, aliases. SQLite dialect.
-- Experiments and registered models belong to a Charter project; a NULL project means
-- the configured default project (experiment 0, "Default", exists before any user).

CREATE TABLE mlflow_sequences (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO mlflow_sequences (name, value) VALUES ('experiment', 0);

CREATE TABLE mlflow_experiments (
    experiment_id     BIGINT PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    project_id        TEXT REFERENCES projects (id),
    artifact_location TEXT NOT NULL,
    lifecycle_stage   TEXT NOT NULL,
    creation_time     BIGINT NOT NULL,
    last_update_time  BIGINT NOT NULL
);
INSERT INTO mlflow_experiments (experiment_id, name, project_id, artifact_location, lifecycle_stage, creation_time, last_update_time)
VALUES (0, 'Default', NULL, 'mlflow-artifacts:/0', 'active', 0, 0);

CREATE TABLE mlflow_experiment_tags (
    experiment_id BIGINT NOT NULL REFERENCES mlflow_experiments (experiment_id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (experiment_id, key)
);

CREATE TABLE mlflow_runs (
    run_uuid        TEXT PRIMARY KEY,
    experiment_id   BIGINT NOT NULL REFERENCES mlflow_experiments (experiment_id),
    name            TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    status          TEXT NOT NULL,
    start_time      BIGINT NOT NULL,
    end_time        BIGINT,
    lifecycle_stage TEXT NOT NULL,
    artifact_uri    TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    deleted_time    BIGINT
);
CREATE INDEX mlflow_runs_experiment ON mlflow_runs (experiment_id, start_time);

CREATE TABLE mlflow_params (
    run_uuid TEXT NOT NULL REFERENCES mlflow_runs (run_uuid) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
);

CREATE TABLE mlflow_tags (
    run_uuid TEXT NOT NULL REFERENCES mlflow_runs (run_uuid) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
);

-- Every metric point; identical points collapse (MLflow's primary key).
CREATE TABLE mlflow_metrics (
    run_uuid       TEXT NOT NULL REFERENCES mlflow_runs (run_uuid) ON DELETE CASCADE,
    key            TEXT NOT NULL,
    value          DOUBLE PRECISION NOT NULL,
    is_nan         BIGINT NOT NULL,
    timestamp      BIGINT NOT NULL,
    step           BIGINT NOT NULL,
    model_id       TEXT,
    dataset_name   TEXT,
    dataset_digest TEXT,
    PRIMARY KEY (run_uuid, key, timestamp, step, value, is_nan)
);

-- The latest point per (run, key) by (step, timestamp, value): what runs show and
-- what `metrics.x` in a search filter compares.
CREATE TABLE mlflow_latest_metrics (
    run_uuid  TEXT NOT NULL REFERENCES mlflow_runs (run_uuid) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    value     DOUBLE PRECISION NOT NULL,
    is_nan    BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    step      BIGINT NOT NULL,
    PRIMARY KEY (run_uuid, key)
);
CREATE INDEX mlflow_latest_metrics_key ON mlflow_latest_metrics (key, value);

CREATE TABLE mlflow_datasets (
    dataset_uuid  TEXT PRIMARY KEY,
    experiment_id BIGINT NOT NULL REFERENCES mlflow_experiments (experiment_id),
    name          TEXT NOT NULL,
    digest        TEXT NOT NULL,
    source_type   TEXT NOT NULL,
    source        TEXT NOT NULL,
    schema        TEXT,
    profile       TEXT,
    UNIQUE (experiment_id, name, digest)
);

CREATE TABLE mlflow_run_inputs (
    run_uuid     TEXT NOT NULL REFERENCES mlflow_runs (run_uuid) ON DELETE CASCADE,
    dataset_uuid TEXT NOT NULL REFERENCES mlflow_datasets (dataset_uuid),
    tags         TEXT NOT NULL,
    context      TEXT,
    PRIMARY KEY (run_uuid, dataset_uuid)
);

-- Models a run read (`input`) or produced (`output`, with the step).
CREATE TABLE mlflow_run_models (
    run_uuid  TEXT NOT NULL REFERENCES mlflow_runs (run_uuid) ON DELETE CASCADE,
    model_id  TEXT NOT NULL,
    direction TEXT NOT NULL,
    step      BIGINT NOT NULL,
    PRIMARY KEY (run_uuid, model_id, direction)
);

CREATE TABLE mlflow_logged_models (
    model_id          TEXT PRIMARY KEY,
    experiment_id     BIGINT NOT NULL REFERENCES mlflow_experiments (experiment_id),
    name              TEXT NOT NULL,
    model_type        TEXT NOT NULL,
    source_run_id     TEXT,
    status            TEXT NOT NULL,
    status_message    TEXT NOT NULL,
    artifact_uri      TEXT NOT NULL,
    lifecycle_stage   TEXT NOT NULL,
    creation_time     BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL,
    created_by        TEXT NOT NULL
);
CREATE INDEX mlflow_logged_models_experiment ON mlflow_logged_models (experiment_id, name);

CREATE TABLE mlflow_logged_model_params (
    model_id TEXT NOT NULL REFERENCES mlflow_logged_models (model_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE mlflow_logged_model_tags (
    model_id TEXT NOT NULL REFERENCES mlflow_logged_models (model_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE mlflow_logged_model_metrics (
    model_id       TEXT NOT NULL,
    key            TEXT NOT NULL,
    value          DOUBLE PRECISION NOT NULL,
    is_nan         BIGINT NOT NULL,
    timestamp      BIGINT NOT NULL,
    step           BIGINT NOT NULL,
    run_uuid       TEXT NOT NULL,
    dataset_name   TEXT,
    dataset_digest TEXT,
    PRIMARY KEY (model_id, key, timestamp, step, run_uuid)
);

CREATE TABLE mlflow_registered_models (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    project_id        TEXT REFERENCES projects (id),
    description       TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    next_version      BIGINT NOT NULL,
    creation_time     BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL
);

CREATE TABLE mlflow_registered_model_tags (
    model_id TEXT NOT NULL REFERENCES mlflow_registered_models (id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE mlflow_model_versions (
    model_id          TEXT NOT NULL REFERENCES mlflow_registered_models (id) ON DELETE CASCADE,
    version           BIGINT NOT NULL,
    description       TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    current_stage     TEXT NOT NULL,
    source            TEXT NOT NULL,
    storage_location  TEXT NOT NULL,
    run_id            TEXT NOT NULL,
    run_link          TEXT NOT NULL,
    logged_model_id   TEXT,
    status            TEXT NOT NULL,
    creation_time     BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL,
    PRIMARY KEY (model_id, version)
);
CREATE INDEX mlflow_model_versions_run ON mlflow_model_versions (run_id);

CREATE TABLE mlflow_model_version_tags (
    model_id TEXT NOT NULL,
    version  BIGINT NOT NULL,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, version, key),
    FOREIGN KEY (model_id, version) REFERENCES mlflow_model_versions (model_id, version) ON DELETE CASCADE
);

CREATE TABLE mlflow_model_aliases (
    model_id TEXT NOT NULL REFERENCES mlflow_registered_models (id) ON DELETE CASCADE,
    alias    TEXT NOT NULL,
    version  BIGINT NOT NULL,
    PRIMARY KEY (model_id, alias)
);
