-- tollgate schema 3: client keys kept in PostgreSQL (SPEC section 14), beside
-- the config file's. `tollgate keys` writes them; the logger copies them to
-- state_dir/keys.cache and the master publishes them to the workers. Only a
-- key's SHA-256 and the first 8 characters of its secret are stored.

CREATE TABLE api_keys (
	name        text PRIMARY KEY
	            CHECK (name ~ '^[A-Za-z0-9._-]{1,63}$'),
	sha256      bytea NOT NULL UNIQUE CHECK (length(sha256) = 32),
	prefix      text NOT NULL CHECK (prefix ~ '^[A-Za-z0-9_]{8}$'),
	rpm         bigint NOT NULL DEFAULT 0 CHECK (rpm BETWEEN 0 AND 1000000000),       -- 0 = unlimited
	tpm         bigint NOT NULL DEFAULT 0 CHECK (tpm BETWEEN 0 AND 1000000000000),
	budget_usd  numeric(20,12) CHECK (budget_usd BETWEEN 0 AND 1000000),            -- per period
	period      text CHECK (period IN ('day', 'month')),                             -- UTC day, calendar month
	models      text[] NOT NULL DEFAULT '{}'                                         -- empty = every model and route
	            CHECK (NOT ('' = ANY (models)) AND
	                   array_to_string(models, ',') ~ '^([A-Za-z0-9._-]{1,63}(,[A-Za-z0-9._-]{1,63})*)?$' AND
	                   length(array_to_string(models, ',')) < 256),
	created_at  timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now(),
	revoked_at  timestamptz,                                                         -- refused from then on
	CONSTRAINT api_keys_budget_has_period CHECK ((budget_usd IS NULL) = (period IS NULL))
);
