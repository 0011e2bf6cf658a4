-- The state of a spec: its ledger, run history, watermarks and staging
-- index. One source for both drivers: rendered per dialect (migrations.go);
-- in PostgreSQL every table is keyed by the spec's key (several specs share
-- a database), DuckDB's file is one spec's. River's tables (river_*) are
-- migrated by River beside these, in PostgreSQL only.

-- +goose Up
CREATE TABLE applink_ledger (
    spec   text    NOT NULL,
    key    bigint NOT NULL, -- RowKey(entity, id), its 64 bits as a signed integer
    entity text    NOT NULL,
    id     text    NOT NULL,
    state  text    NOT NULL, -- imported | excluded | failed | queued | retrying
    reason text    NOT NULL,
    detail text    NOT NULL,
    fp     bigint NOT NULL,
    active boolean NOT NULL,
    run_id text    NOT NULL,
    PRIMARY KEY (spec, key)
);
-- Reports count what is still open: queued deliveries and failures.
CREATE INDEX applink_ledger_open ON applink_ledger (spec, state) WHERE state IN ('queued', 'failed');
CREATE INDEX applink_ledger_run ON applink_ledger (spec, run_id);

CREATE TABLE applink_runs (
    spec   text    NOT NULL,
    run_id    text        NOT NULL,
    kind      text        NOT NULL, -- run | restore | purge
    plan_hash text        NOT NULL,
    spec_hash text        NOT NULL,
    started   timestamptz NOT NULL,
    ended     timestamptz NOT NULL,
    summary   text        NOT NULL,
    target    text,                 -- where the run's queued deliveries go (JSON); NULL without
    PRIMARY KEY (spec, run_id)
);

CREATE TABLE applink_watermarks (
    spec   text    NOT NULL,
    source     text        NOT NULL,
    start_time timestamptz NOT NULL,
    call_id    text        NOT NULL,
    run_id     text        NOT NULL,
    PRIMARY KEY (spec, source)
);

CREATE TABLE applink_staging (
    spec   text    NOT NULL,
    run_id    text        NOT NULL,
    path      text        NOT NULL,
    created   timestamptz NOT NULL,
    calls     bigint      NOT NULL,
    agents    bigint      NOT NULL,
    purged_at timestamptz,
    PRIMARY KEY (spec, run_id)
);

-- +goose Down
DROP TABLE applink_staging;
DROP TABLE applink_watermarks;
DROP TABLE applink_runs;
DROP TABLE applink_ledger;
