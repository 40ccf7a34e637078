-- tollgate schema 1: one row per answered call, its provider attempts, and the
-- audit log. Applied by `tollgate migrate` in one transaction and recorded in
-- schema_migrations. Rows arrive through the logger's staging tables with
-- ON CONFLICT DO NOTHING, so a replayed batch is counted once.

CREATE TABLE requests (
	request_id          uuid PRIMARY KEY,
	client_request_id   text,
	created_at          timestamptz NOT NULL,
	key_name            text,
	endpoint            text NOT NULL,          -- the client-facing path (tg_endpoint_names)
	route               text,
	provider            text,
	model               text,
	upstream_model      text,
	stream              boolean NOT NULL,
	status              integer NOT NULL,       -- what the client got; 0 = unknown
	outcome             text NOT NULL,          -- tg_outcome_names
	attempts            integer NOT NULL,
	input_tokens        bigint NOT NULL,
	output_tokens       bigint NOT NULL,        -- reasoning included
	reasoning_tokens    bigint NOT NULL,
	cache_read_tokens   bigint NOT NULL,
	cache_write_tokens  bigint NOT NULL,
	cost_usd            numeric(20,12) NOT NULL,
	latency_us          bigint NOT NULL,
	ttfb_us             bigint NOT NULL,
	overhead_us         bigint NOT NULL,
	usage_complete      boolean NOT NULL,
	upstream_request_id text,
	error               text
);

CREATE INDEX requests_created_at_idx ON requests (created_at);
CREATE INDEX requests_model_created_idx ON requests (model, created_at);
CREATE INDEX requests_key_created_idx ON requests (key_name, created_at);

CREATE TABLE attempts (
	request_id  uuid NOT NULL,
	n           integer NOT NULL,               -- 1 = first attempt
	provider    text,
	status      integer NOT NULL,
	outcome     text NOT NULL,
	latency_us  bigint NOT NULL,
	cost_usd    numeric(20,12) NOT NULL,
	PRIMARY KEY (request_id, n)
);

CREATE TABLE audit_log (
	id      uuid PRIMARY KEY,
	at      timestamptz NOT NULL,
	actor   text NOT NULL,
	event   text NOT NULL,
	detail  jsonb
);

CREATE INDEX audit_log_at_idx ON audit_log (at);
