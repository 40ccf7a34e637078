// The fault scenario (issue 8, SPEC 12) inside `make test`: runs
// tests/stress/scenario.sh for 20 s — wrk load while a worker and the logger
// are killed with -9, PostgreSQL restarts, the master reloads on SIGHUP and a
// provider goes down and back — and asserts its verdict: exit 0, every answer
// wrk got is a row in `requests` exactly once with the same status and cost,
// and every breaker transition is in audit_log. The script starts its own
// PostgreSQL (it must restart it), so TG_TEST_PG is not used.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from './lib.mjs';

const DURATION = Number(process.env.TG_STRESS_DURATION || 20);

// Run the script; resolves to { code, signal, out } (stdout and stderr interleaved), at most limitMs.
function runScenario(limitMs) {
  return new Promise((resolve) => {
    const child = spawn('sh', [path.join(ROOT, 'tests/stress/scenario.sh')], {
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

test(`fault scenario under wrk load for ${DURATION} s: none lost, none doubled, every breaker transition audited`,
  { timeout: (DURATION + 150) * 1000 }, async () => {
    const { code, signal, out } = await runScenario((DURATION + 120) * 1000);
    for (const line of out.split('\n')) if (line.trim() !== '') console.log(line);
    assert.equal(signal, null, 'the scenario was stopped by its deadline');
    assert.equal(code, 0, `the scenario failed (exit ${code}); its output is above`);
    assert.match(out, /^PASS: /m);
    const m = out.match(/lost (\d+), doubled (\d+), wrong status (\d+), wrong cost (\d+), unexpected (\d+)/);
    assert.ok(m, 'the summary line is missing');
    assert.deepEqual(m.slice(1).map(Number), [0, 0, 0, 0, 0]);
    const answered = out.match(/^ {2}answered +(\d+) +(\d+)$/m);
    assert.ok(answered, 'the answered row of the table is missing');
    assert.equal(answered[1], answered[2], 'wrk answers = rows for them');
    assert.ok(Number(answered[1]) > 1000, `a real load: ${answered[1]} answers`);
    // every action of the scenario ran and was seen to have its effect
    for (const what of [/kill -9 worker \d+ +\(\d+ of wrk's connections; the other worker \d+\) replaced by \d+/, /kill -9 logger \d+ +restarted as \d+/,
      /PostgreSQL stop \.\.\. start +down [\d.]+ s; spool gauge peak \d+ rows; spool empty/,
      /SIGHUP \(openai rpm changed\) +reloaded in/, /anthropic down \(simulator 503\) +breaker seen open/,
      /anthropic back \(fault none\) +breaker closed again/]) {
      assert.match(out, what);
    }
  });
