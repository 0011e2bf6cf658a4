-- The state of a spec: its ledger, run history, watermarks and staging
-- index. One source for both drivers: rendered per dialect (migrations.go);
-- in PostgreSQL every table is keyed by the spec's key (several specs share
-- a database), DuckDB's file is one spec's. River's tables (river_*) are
-- migrated by River beside these, in PostgreSQL only.

-- +goose Up
CREATE TABLE ledger (
    key    UBIGINT NOT NULL, -- RowKey(entity, id)
    entity text    NOT NULL,
    id     text    NOT NULL,
    state  text    NOT NULL, -- imported | excluded | failed | queued | retrying
    reason text    NOT NULL,
    detail text    NOT NULL,
    fp     UBIGINT NOT NULL,
    active boolean NOT NULL,
    run_id text    NOT NULL
);
-- (entity, id) is unique by construction (RunLedger.Commit); no index, so
-- DuckDB's upserts are hash joins.

CREATE TABLE runs (
    run_id    text        NOT NULL,
    kind      text        NOT NULL, -- run | restore | purge
    plan_hash text        NOT NULL,
    spec_hash text        NOT NULL,
    started   timestamptz NOT NULL,
    ended     timestamptz NOT NULL,
    summary   text        NOT NULL,
    PRIMARY KEY (run_id)
);

CREATE TABLE watermarks (
    source     text        NOT NULL,
    start_time timestamptz NOT NULL,
    call_id    text        NOT NULL,
    run_id     text        NOT NULL,
    PRIMARY KEY (source)
);

CREATE TABLE staging (
    run_id    text        NOT NULL,
    path      text        NOT NULL,
    created   timestamptz NOT NULL,
    calls     bigint      NOT NULL,
    agents    bigint      NOT NULL,
    purged_at timestamptz,
    PRIMARY KEY (run_id)
);

-- +goose Down
DROP TABLE staging;
DROP TABLE watermarks;
DROP TABLE runs;
DROP TABLE ledger;
