-- A realistic day of the demo's route for `tollgate report --compare`, made
-- up but shaped like the simulator's bills: Claude 3 Haiku, Claude Haiku 4.5
-- and Gemini 2.5 Flash (whose hidden reasoning makes it the dearest per call),
-- Gemini also as a shadow of 5 % of the calls, two checks (says_paris,
-- brief), a few errors and undecided checks. Deterministic (setseed), so the
-- README's screenshot can be made again: tests/render_html.sh --sample.
-- Costs are tokens × the demo's prices, in NUMERIC: exact, as the gateway bills.
SELECT setseed(0.4213);

CREATE TEMP TABLE sample_models (model text, provider text, n int, price_in numeric, price_out numeric,
	out_median numeric, rsn_median numeric, lat_ms numeric, err_per_mille int, shadow boolean);
INSERT INTO sample_models VALUES
	('claude-3-haiku',   'anthropic', 420, 0.25, 1.25,  9,   0,  430, 12, false),
	('claude-haiku-4-5', 'anthropic', 260, 1.00, 5.00, 12,   0,  690,  8, false),
	('gemini-2.5-flash', 'gemini',    320, 0.30, 2.50,  9,  36, 1450, 20, false),
	('gemini-2.5-flash', 'gemini',     36, 0.30, 2.50,  9,  36, 1450,  0, true);

-- two standard normal draws per call (Box-Muller), for log-normal tokens and latency
CREATE TEMP TABLE sample_calls AS
SELECT m.*, i,
	sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z1,
	sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z2,
	random() AS u, random() AS u2, random() AS t
FROM sample_models m, generate_series(1, m.n) AS i;

CREATE TEMP TABLE sample_rows AS
SELECT *, greatest(1, round(out_median * exp(0.35 * z1)))::bigint AS visible,
	CASE WHEN rsn_median = 0 THEN 0
	     ELSE greatest(0, round(rsn_median * exp(0.55 * z2)))::bigint END AS rsn,
	(14 + (u2 * 3)::int)::bigint AS in_tok,
	round(lat_ms * exp(0.25 * z2 + 0.1 * z1) * 1000)::bigint AS lat_us,
	(u * 1000)::int < err_per_mille AS failed
FROM sample_calls;

INSERT INTO requests (request_id, client_request_id, created_at, key_name, endpoint, route,
	provider, model, upstream_model, stream, status, outcome, attempts, input_tokens,
	output_tokens, reasoning_tokens, cache_read_tokens, cache_write_tokens, cost_usd,
	latency_us, ttfb_us, overhead_us, usage_complete, delivery, route_reason, shadow_of,
	checks_run, checks_passed, checks_unknown)
SELECT gen_random_uuid(), 'sample-' || model || '-' || i || CASE WHEN shadow THEN '-s' ELSE '' END,
	now() - interval '23 hours' * t, 'demo', '/v1/messages', 'auto', provider, model, model,
	false, CASE WHEN failed THEN 503 ELSE 200 END,
	CASE WHEN failed THEN 'unavailable' ELSE 'ok' END, 1,
	CASE WHEN failed THEN 0 ELSE in_tok END,
	CASE WHEN failed THEN 0 ELSE visible + rsn END,
	CASE WHEN failed THEN 0 ELSE rsn END, 0, 0,
	CASE WHEN failed THEN 0
	     ELSE (in_tok * price_in + (visible + rsn) * price_out) / 1000000 END,
	CASE WHEN failed THEN lat_us / 4 ELSE lat_us END, lat_us / 3, 250, NOT failed,
	'delivered', CASE WHEN shadow THEN NULL ELSE 'cheapest' END,
	CASE WHEN shadow THEN gen_random_uuid() END,
	-- bit 0 says_paris, bit 1 brief (at most 12 visible tokens); 1 call in 60 undecided
	CASE WHEN failed THEN 0 ELSE 3 END,
	CASE WHEN failed THEN 0
	     ELSE (CASE WHEN u2 > 0.015 THEN 1 ELSE 0 END) | (CASE WHEN visible <= 12 THEN 2 ELSE 0 END) END,
	CASE WHEN NOT failed AND u2 > 0.983 THEN 1 ELSE 0 END
FROM sample_rows;
