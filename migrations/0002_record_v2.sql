-- tollgate schema 2: the fields of record version 2 (include/tg_record.h).
-- requests: whether the client got the reply, why the route chose its target,
-- the client call a shadow call copies, and the route's checks as bitmaps
-- (bit i = the route's check i; bit 31 makes the integer negative).
-- attempts: the model each attempt asked for, and a NULL cost when the
-- provider may have billed an attempt and nobody can say how much.

-- Rows written before this migration were recorded once their reply had been
-- handed to the client's socket, so they are 'delivered', except calls the
-- client left ('cancelled') and calls in flight in a worker that died
-- ('unknown'). The default only fills the existing rows without rewriting the
-- table; it is dropped again so that the logger always says which it is.
ALTER TABLE requests
	ADD COLUMN delivery       text NOT NULL DEFAULT 'delivered',   -- tg_delivery_names
	ADD COLUMN route_reason   text,                                -- tg_route_reason_names; NULL = no route
	ADD COLUMN shadow_of      uuid,                                -- the client call a shadow call copies
	ADD COLUMN checks_run     integer NOT NULL DEFAULT 0,
	ADD COLUMN checks_passed  integer NOT NULL DEFAULT 0,
	ADD COLUMN checks_unknown integer NOT NULL DEFAULT 0;

UPDATE requests SET delivery = 'not_delivered' WHERE outcome = 'cancelled';
UPDATE requests SET delivery = 'unknown' WHERE outcome = 'unknown';

ALTER TABLE requests ALTER COLUMN delivery DROP DEFAULT;

CREATE INDEX requests_shadow_of_idx ON requests (shadow_of) WHERE shadow_of IS NOT NULL;

-- Existing attempts keep their model unknown (NULL) and their cost.
ALTER TABLE attempts
	ADD COLUMN model text,
	ALTER COLUMN cost_usd DROP NOT NULL;
