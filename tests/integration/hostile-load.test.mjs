// The hostile-clients load script (issue 12) inside `make test`: runs
// tests/stress/hostile.sh for 4 s a phase — a good client with a key alone,
// then beside clients without one that trickle heads, send heads over the cap
// and slow 4 MiB bodies — and holds it to its bounds: no error for the good
// client, its p99 under attack within 3x its p99 alone, the workers' private
// memory after the attack within 1.5x of before (and within 64 MiB of it
// during), every trickle ended by client_timeout_ms. `make stress` runs the
// same script for 20 s a phase.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from './lib.mjs';

const DURATION = Number(process.env.TG_HOSTILE_DURATION || 4);

function run(limitMs) {
  return new Promise((resolve) => {
    const child = spawn('sh', [path.join(ROOT, 'tests/stress/hostile.sh')], {
      cwd: ROOT, env: { ...process.env, DURATION: String(DURATION) }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { out += c; });
    // SIGTERM lets the script's trap stop what it started
    const t = setTimeout(() => child.kill('SIGTERM'), limitMs);
    child.on('close', (code, signal) => { clearTimeout(t); resolve({ code, signal, out }); });
  });
}

test(`hostile clients for ${DURATION} s beside a good one: its latency and the workers' memory stay bounded`,
  { timeout: (DURATION * 2 + 40) * 1000 }, async (t) => {
    const r = await run((DURATION * 2 + 35) * 1000);
    const line = r.out.split('\n').find((l) => l.startsWith('hostile: rss_before_kib='));
    assert.ok(line, `the script reported no figures (exit ${r.code}):\n${r.out}`);
    const f = Object.fromEntries(line.slice('hostile: '.length).split(' ')
      .map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
    t.diagnostic(`good client p50/p99 alone ${f.base_p50_us / 1000}/${f.base_p99_us / 1000} ms, under attack ` +
      `${f.attack_p50_us / 1000}/${f.attack_p99_us / 1000} ms; workers' RssAnon before ${f.rss_before_kib} KiB, ` +
      `peak ${f.rss_during_kib} KiB, after ${f.rss_after_kib} KiB; longest trickle ${f.trickle_longest_ms} ms`);
    assert.equal(f.base_errors + f.attack_errors, 0, r.out);
    assert.ok(f.attack_p99_us <= 3 * f.base_p99_us, r.out);
    assert.ok(f.rss_after_kib <= 1.5 * f.rss_before_kib, r.out);
    assert.ok(f.rss_during_kib <= f.rss_before_kib + 64 * 1024, r.out);
    assert.ok(f.trickle_longest_ms <= 6500, r.out);
    assert.equal(r.code, 0, `the script's own bounds:\n${r.out}`);
  });
