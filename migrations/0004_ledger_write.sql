-- tollgate schema 4: a cheaper ledger write (issue 15, BENCHMARKS.md "The ledger
-- write"). The logger now COPYs each batch straight into requests, keeps each
-- ring's committed read position in ledger_cursors in the same transaction,
-- and keeps staging + ON CONFLICT for the records that may already be in the
-- database (spool replay, old ring files, records of calls in flight in a
-- worker that died). Every index left is there for a query that needs it.

-- Indexes of requests, each for its readers:
--  * request_id (primary key): ON CONFLICT on the recovery paths, and what a
--    duplicate in the direct COPY fails on, so that it is written that way instead.
--  * created_at, now BRIN: `tollgate report`, `report --compare` (and the route
--    statistics seeded from recent rows) read every row of a period; rows arrive
--    in created_at order, so a summary per block range finds them at a fraction
--    of a b-tree's cost per insert.
--  * (key_name, created_at), now only for rows that have a key: the budgets'
--    spend restore (logger/spend.c) and `keys list` sum one key's period; a row
--    without a key is never looked up by it.
-- Dropped: (model, created_at), which no query filters on (the report groups by
-- model over a created_at range), and the partial index on shadow_of, which no
-- query looks up by.
DROP INDEX requests_model_created_idx;
DROP INDEX requests_shadow_of_idx;
DROP INDEX requests_created_at_idx;
CREATE INDEX requests_created_at_brin ON requests USING brin (created_at);
DROP INDEX requests_key_created_idx;
CREATE INDEX requests_key_created_idx ON requests (key_name, created_at) WHERE key_name IS NOT NULL;

-- A call's last attempt (the one whose answer or failure the call reports, on
-- the target named by requests.provider and requests.model) is kept in its
-- requests row; attempt_log keeps the others. Nearly every call makes one
-- attempt, so nearly every call is one row again instead of two. NULL
-- attempt_status: the last attempt is not inline (no attempt, or a row
-- written before this migration, whose attempts are all in attempt_log).
ALTER TABLE requests
	ADD COLUMN attempt_status     integer,           -- the provider's HTTP status, 0 if none
	ADD COLUMN attempt_outcome    text,              -- tg_outcome_names
	ADD COLUMN attempt_latency_us bigint,
	ADD COLUMN attempt_cost_usd   numeric(20,12);    -- NULL: it may have billed, nobody can say how much

ALTER TABLE attempts RENAME TO attempt_log;
ALTER INDEX attempts_pkey RENAME TO attempt_log_pkey;

-- Every attempt of every call, as the attempts table had them: readers do not
-- need to know where an attempt is kept.
CREATE VIEW attempts AS
	SELECT request_id, n, provider, status, outcome, latency_us, cost_usd, model
	FROM attempt_log
	UNION ALL
	SELECT request_id, attempts, provider, attempt_status, attempt_outcome, attempt_latency_us,
	       attempt_cost_usd, model
	FROM requests WHERE attempt_status IS NOT NULL;

-- Per gateway state_dir (its ledger.id) and ring: the read position up to which
-- the ring's records are committed, written in the same transaction as them,
-- and the id in the record just before it, which proves on the next start that
-- the ring file is the same one.
CREATE TABLE ledger_cursors (
	ledger_id  uuid NOT NULL,
	ring       integer NOT NULL,
	pos        bigint NOT NULL,
	last_id    uuid NOT NULL,
	PRIMARY KEY (ledger_id, ring)
);
