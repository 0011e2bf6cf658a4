-- The drift between the two drivers fixed (runs.target on both), the
-- delivery states (retrying: attempt, next try, last error in
-- reason/detail), what was sent of a call's media, and each spec's fencing
-- epoch and holder.

-- +goose Up
ALTER TABLE runs ADD COLUMN target text; -- where the run's queued deliveries go (JSON); NULL without
ALTER TABLE ledger ADD COLUMN attempt integer;       -- retrying: the attempt that failed
ALTER TABLE ledger ADD COLUMN next_try timestamptz;  -- retrying: when the next attempt is due
ALTER TABLE ledger ADD COLUMN media_type text;       -- imported: the media's content type as sent
ALTER TABLE ledger ADD COLUMN media_size bigint;     -- imported: its size in bytes
ALTER TABLE ledger ADD COLUMN media_sha256 text;     -- imported: its SHA-256, hex

-- Fencing: each takeover of a spec advances its epoch; every commit and
-- enqueue checks, in its own transaction, that its epoch is still current.
CREATE TABLE specs (
    spec  text        PRIMARY KEY,
    epoch bigint      NOT NULL,
    host  text        NOT NULL,
    pid   integer     NOT NULL,
    since timestamptz NOT NULL
);

-- +goose Down
DROP TABLE specs;
ALTER TABLE ledger DROP COLUMN media_sha256;
ALTER TABLE ledger DROP COLUMN media_size;
ALTER TABLE ledger DROP COLUMN media_type;
ALTER TABLE ledger DROP COLUMN next_try;
ALTER TABLE ledger DROP COLUMN attempt;
ALTER TABLE runs DROP COLUMN target;
