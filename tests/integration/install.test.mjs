// make install honours PREFIX and DESTDIR: the binary, the migrations it looks
// for under PREFIX/share/tollgate, the example configs and the unit file.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { ROOT, tmpdir } from './lib.mjs';

test('make install PREFIX=/opt/tg DESTDIR=… stages every file under DESTDIR/PREFIX', () => {
  const dest = tmpdir('tollgate-install-');
  execFileSync('make', ['--no-print-directory', 'install', 'PREFIX=/opt/tg', `DESTDIR=${dest}`],
    { cwd: ROOT, stdio: 'pipe' });
  const bin = `${dest}/opt/tg/bin/tollgate`;
  assert.ok(statSync(bin).mode & 0o111, 'the binary is executable');
  for (const f of ['share/tollgate/migrations/0001_init.sql', 'share/tollgate/etc/tollgate.json',
    'share/tollgate/etc/tollgate.service'])
    assert.ok(existsSync(`${dest}/opt/tg/${f}`), f);
  assert.match(execFileSync(bin, ['version'], { encoding: 'utf8' }), /^tollgate \d+\.\d+\.\d+/);
});
