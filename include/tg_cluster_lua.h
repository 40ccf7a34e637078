/*
 * What tollgate keeps in Redis (SPEC section 15): the key names and the Lua
 * scripts that change them, each one atomic on the Redis side. Shared by the
 * workers (worker/cluster.c, asynchronously) and the master (master/cluster.c,
 * which hands leases back at stop). Redis is the clock of every script (TIME),
 * so no two nodes' clocks are ever compared.
 *
 * Keys (all under "tollgate:"):
 *   r:k:<key>:rpm, r:k:<key>:tpm, r:p:<provider>:rpm, …  a limit's GCRA arrival time (µs)
 *   b:<key>:<d|m>:<period>                       a budget period: taken, i:<node>, g:<node>
 *   br:<provider>                                a breaker: st, round, until, granted, ok
 *   nodes                                        membership: node -> expiry (ms)
 *   channel "tollgate:breaker"                   "open|closed <provider> <ms> <round> <node>"
 *
 * Money in Redis is in whole micro-USD (Lua numbers are doubles: exact to
 * 2^53, so budgets up to about 9e9 USD per period stay exact); a node's grant
 * in its shared region is that times 10^6 pico-USD.
 */
#ifndef TG_CLUSTER_LUA_H
#define TG_CLUSTER_LUA_H

#include <stddef.h>
#include <stdint.h>

#define TG_CLUSTER_CHANNEL  "tollgate:breaker"
#define TG_CLUSTER_NODES    "tollgate:nodes"
#define TG_CLUSTER_UNIT_PUSD 1000000ll        /* one micro-USD: the grain of a budget grant */
#define TG_CLUSTER_KEY_MAX  160

/* The scripts, indexed as tg_cluster_lua[]. */
enum tg_cluster_script {
	TG_LUA_RATE_TAKE = 0,   /* KEYS: limit; ARGV: rate/min, units -> {granted, retry_ms} */
	TG_LUA_RATE_GIVE,       /* KEYS: limit; ARGV: rate/min, units -> 1 */
	TG_LUA_BUDGET_LEASE,    /* KEYS: period; ARGV: node, inc, want, budget, floor, mine, ttl_s
				 * -> {granted, left} (µUSD) */
	TG_LUA_BUDGET_RETURN,   /* KEYS: period; ARGV: node, inc, amount -> returned (µUSD) */
	TG_LUA_BREAKER_OPEN,    /* KEYS: breaker; ARGV: open_ms, node, channel, provider
				 * -> {published 0/1, open ms left} */
	TG_LUA_BREAKER_PROBE,   /* KEYS: breaker; ARGV: probes, probe_ms
				 * -> {0 wait | 1 closed | 2 permit, round, ms left} */
	TG_LUA_BREAKER_PROBE_OK,/* KEYS: breaker; ARGV: round, probes, channel, provider, node
				 * -> 1 when this success closed the cluster's breaker */
	TG_LUA_BEAT,            /* KEYS: nodes, breakers…; ARGV: node, ttl_ms
				 * -> {live nodes, open ms left per breaker (0: not open)…} */
	TG_LUA_SCRIPTS
};

struct tg_cluster_script_src {
	const char *name;
	const char *src;
};

extern const struct tg_cluster_script_src tg_cluster_lua[TG_LUA_SCRIPTS];

/* Key names into out (TG_CLUSTER_KEY_MAX bytes); scope 'k' (client key) or 'p' (provider). */
void tg_cluster_key_rate(char *out, char scope, const char *name, const char *which);
void tg_cluster_key_budget(char *out, const char *key, int monthly, uint64_t period);
void tg_cluster_key_breaker(char *out, const char *provider);

#endif /* TG_CLUSTER_LUA_H */
