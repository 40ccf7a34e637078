/*
 * The Lua scripts tollgate runs in Redis and the names of the keys they
 * change (include/tg_cluster_lua.h). Each script is one atomic step on the
 * Redis side; numbers that Redis must store exactly go through
 * string.format('%.0f'), never Lua's own tostring (which rounds to 14 digits).
 */
#include "tg_cluster_lua.h"

#include <stdio.h>

/* Redis's clock, in µs and ms: the only clock the scripts compare. */
#define NOW_US "local t = redis.call('TIME')\n" \
	       "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
#define NOW_MS "local t = redis.call('TIME')\n" \
	       "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

/*
 * A slice of a rate limit: GCRA with a burst of one minute's rate, as one
 * node alone (shm/gcra.c). Grants what fits, up to the units asked; none
 * fitting, says in how many ms one unit will.
 */
static const char rate_take[] =
	NOW_US
	"local rate, want = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
	"local per = 60000000 / rate\n"
	"local tat = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
	"if tat < now then tat = now end\n"
	"local avail = math.floor((now + 60000000 - tat) / per)\n"
	"if avail > rate then avail = rate end\n"
	"if avail < 1 then\n"
	"  return {0, math.ceil((tat + per - now - 60000000) / 1000)}\n"
	"end\n"
	"if want > avail then want = avail end\n"
	"tat = tat + want * per\n"
	"redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX',\n"
	"           math.ceil((tat - now) / 1000) + 1000)\n"
	"return {want, 0}\n";

/* Units a node leased and did not spend, back: the arrival time moves back, never before now. */
static const char rate_give[] =
	NOW_US
	"local tat = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
	"if tat <= now then return 1 end\n"
	"tat = tat - tonumber(ARGV[2]) * 60000000 / tonumber(ARGV[1])\n"
	"if tat < now then tat = now end\n"
	"redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX',\n"
	"           math.ceil((tat - now) / 1000) + 1000)\n"
	"return 1\n";

/*
 * A slice of a budget period. taken = everything granted to any node (and
 * the ledger's spend when the period was first seen here, the floor), never
 * more than the budget. A node's first lease under a new incarnation (a
 * restart) leaves what its earlier one was granted in taken: that may have
 * been spent. A node that holds a grant the hash does not know (Redis lost
 * its data) declares it first.
 */
static const char budget_lease[] =
	"local k, node, inc = KEYS[1], ARGV[1], ARGV[2]\n"
	"local want, budget = tonumber(ARGV[3]), tonumber(ARGV[4])\n"
	"if redis.call('EXISTS', k) == 0 then\n"
	"  redis.call('HSET', k, 'taken', ARGV[5])\n"
	"end\n"
	"if redis.call('HGET', k, 'i:' .. node) ~= inc then\n"
	"  redis.call('HSET', k, 'i:' .. node, inc, 'g:' .. node, ARGV[6])\n"
	"  redis.call('HINCRBY', k, 'taken', ARGV[6])\n"
	"end\n"
	"local left = budget - tonumber(redis.call('HGET', k, 'taken'))\n"
	"local g = want\n"
	"if g > left then g = left end\n"
	"if g < 0 then g = 0 end\n"
	"if g > 0 then\n"
	"  redis.call('HINCRBY', k, 'taken', string.format('%.0f', g))\n"
	"  redis.call('HINCRBY', k, 'g:' .. node, string.format('%.0f', g))\n"
	"end\n"
	"redis.call('EXPIRE', k, ARGV[7])\n"
	"return {g, left - g}\n";

/* Unspent grant back to the period's pool: only this incarnation's, at most what it holds. */
static const char budget_return[] =
	"local k, node = KEYS[1], ARGV[1]\n"
	"if redis.call('HGET', k, 'i:' .. node) ~= ARGV[2] then return 0 end\n"
	"local g = tonumber(redis.call('HGET', k, 'g:' .. node) or '0')\n"
	"local a = tonumber(ARGV[3])\n"
	"if a > g then a = g end\n"
	"if a <= 0 then return 0 end\n"
	"redis.call('HINCRBY', k, 'g:' .. node, string.format('%.0f', -a))\n"
	"redis.call('HINCRBY', k, 'taken', string.format('%.0f', -a))\n"
	"return a\n";

/*
 * A node's breaker tripped: the cluster's is OPEN for open_ms from now, with
 * a new round, and every node hears it. Already open: nothing to say.
 */
static const char breaker_open[] =
	NOW_MS
	"local open_ms = tonumber(ARGV[1])\n"
	"local st = redis.call('HGET', KEYS[1], 'st')\n"
	"local untl = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')\n"
	"if st == 'open' and untl > now then return {0, untl - now} end\n"
	"local round = redis.call('HINCRBY', KEYS[1], 'round', 1)\n"
	"redis.call('HSET', KEYS[1], 'st', 'open', 'until', string.format('%.0f', now + open_ms),\n"
	"           'granted', 0, 'ok', 0)\n"
	"redis.call('PEXPIRE', KEYS[1], open_ms + 3600000)\n"
	"redis.call('PUBLISH', ARGV[3], 'open ' .. ARGV[4] .. ' ' .. ARGV[1] .. ' ' .. round ..\n"
	"           ' ' .. ARGV[2])\n"
	"return {1, open_ms}\n";

/*
 * A node wants a half-open probe: the cluster grants at most `probes` per
 * round. OPEN past its time starts a round; a round whose probes did not all
 * report within probe_ms (a node died holding one) starts another.
 */
static const char breaker_probe[] =
	NOW_MS
	"local probes, probe_ms = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
	"local st = redis.call('HGET', KEYS[1], 'st')\n"
	"local untl = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')\n"
	"if st ~= 'open' and st ~= 'half' then return {1, 0, 0} end\n"
	"if st == 'open' and now < untl then return {0, 0, untl - now} end\n"
	"if st == 'open' or now >= untl then\n"
	"  untl = now + probe_ms\n"
	"  redis.call('HINCRBY', KEYS[1], 'round', 1)\n"
	"  redis.call('HSET', KEYS[1], 'st', 'half', 'until', string.format('%.0f', untl),\n"
	"             'granted', 0, 'ok', 0)\n"
	"  redis.call('PEXPIRE', KEYS[1], probe_ms + 3600000)\n"
	"end\n"
	"local round = tonumber(redis.call('HGET', KEYS[1], 'round'))\n"
	"if tonumber(redis.call('HGET', KEYS[1], 'granted')) >= probes then\n"
	"  return {0, round, untl - now}\n"
	"end\n"
	"redis.call('HINCRBY', KEYS[1], 'granted', 1)\n"
	"return {2, round, 0}\n";

/* A probe of this round succeeded; the last of `probes` closes the cluster's breaker. */
static const char breaker_probe_ok[] =
	"if redis.call('HGET', KEYS[1], 'st') ~= 'half' or\n"
	"   redis.call('HGET', KEYS[1], 'round') ~= ARGV[1] then return 0 end\n"
	"if redis.call('HINCRBY', KEYS[1], 'ok', 1) < tonumber(ARGV[2]) then return 0 end\n"
	"local round = redis.call('HINCRBY', KEYS[1], 'round', 1)\n"
	"redis.call('HSET', KEYS[1], 'st', 'closed', 'until', 0, 'granted', 0, 'ok', 0)\n"
	"redis.call('PUBLISH', ARGV[3], 'closed ' .. ARGV[4] .. ' 0 ' .. round .. ' ' .. ARGV[5])\n"
	"return 1\n";

/*
 * The keeper's heartbeat: this node is alive for ttl_ms, the dead are
 * dropped, and each breaker's OPEN time left is read (the sync behind pub/sub).
 */
static const char beat[] =
	NOW_MS
	"redis.call('ZADD', KEYS[1], string.format('%.0f', now + tonumber(ARGV[2])), ARGV[1])\n"
	"redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))\n"
	"local out = {redis.call('ZCARD', KEYS[1])}\n"
	"for i = 2, #KEYS do\n"
	"  local untl = tonumber(redis.call('HGET', KEYS[i], 'until') or '0')\n"
	"  if redis.call('HGET', KEYS[i], 'st') == 'open' and untl > now then\n"
	"    out[#out + 1] = untl - now\n"
	"  else\n"
	"    out[#out + 1] = 0\n"
	"  end\n"
	"end\n"
	"return out\n";

const struct tg_cluster_script_src tg_cluster_lua[TG_LUA_SCRIPTS] = {
	[TG_LUA_RATE_TAKE] = { "rate_take", rate_take },
	[TG_LUA_RATE_GIVE] = { "rate_give", rate_give },
	[TG_LUA_BUDGET_LEASE] = { "budget_lease", budget_lease },
	[TG_LUA_BUDGET_RETURN] = { "budget_return", budget_return },
	[TG_LUA_BREAKER_OPEN] = { "breaker_open", breaker_open },
	[TG_LUA_BREAKER_PROBE] = { "breaker_probe", breaker_probe },
	[TG_LUA_BREAKER_PROBE_OK] = { "breaker_probe_ok", breaker_probe_ok },
	[TG_LUA_BEAT] = { "beat", beat },
};

void
tg_cluster_key_rate(char *out, char scope, const char *name, const char *which)
{
	snprintf(out, TG_CLUSTER_KEY_MAX, "tollgate:r:%c:%s:%s", scope, name, which);
}

void
tg_cluster_key_budget(char *out, const char *key, int monthly, uint64_t period)
{
	snprintf(out, TG_CLUSTER_KEY_MAX, "tollgate:b:%s:%c:%llu", key, monthly ? 'm' : 'd',
		 (unsigned long long)period);
}

void
tg_cluster_key_breaker(char *out, const char *provider)
{
	snprintf(out, TG_CLUSTER_KEY_MAX, "tollgate:br:%s", provider);
}
