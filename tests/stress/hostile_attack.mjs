// The attackers of tests/stress/hostile.sh: clients without a key that try to
// hold a gateway's connections, memory and time, each in a loop that opens a
// new connection when the server ends the last one, for a bounded time.
//   trickle  - one byte of a request head every 4 s (the deadline must end it)
//   headers  - a head of 70 KiB, over the 64 KiB cap, announcing a 4 MiB body
//   bodies   - a keyless head announcing 4 MiB, then the body, slowly
// Usage: node hostile_attack.mjs PORT SECONDS [TRICKLE HEADERS BODIES]
// Prints one line of JSON: what each attacker did and what the server said.
import net from 'node:net';

const [port, seconds, nTrickle = 200, nHeaders = 20, nBodies = 200] = process.argv.slice(2).map(Number);
if (!port || !seconds) {
  console.error('usage: node hostile_attack.mjs PORT SECONDS [TRICKLE HEADERS BODIES]');
  process.exit(2);
}
const until = Date.now() + seconds * 1000;
const BODY = 4 << 20;
const CHUNK = 16 << 10;        // a slow body: 16 KiB every 250 ms
const CHUNK_EVERY_MS = 250;
const TRICKLE_EVERY_MS = 4000;
const HEADERS_EVERY_MS = 200;
const keyless = (extra = []) => ['POST /v1/messages HTTP/1.1', 'Host: tollgate', 'Content-Type: application/json',
  'anthropic-version: 2023-06-01', `Content-Length: ${BODY}`, ...extra, '', ''].join('\r\n');
const bigHead = keyless([`x-pad: ${'a'.repeat(70 << 10)}`]);

// longest_ms: the longest a trickling connection was kept, to the server's FIN or reset, or to
// the end of the attack if the server still held it
const stats = {
  trickle: { connections: 0, statuses: {}, longest_ms: 0, resets: 0 },
  headers: { connections: 0, statuses: {}, resets: 0, bytes_sent: 0 },
  bodies: { connections: 0, statuses: {}, resets: 0, bytes_sent: 0 },
};
const open = new Set();

function status(buf) {
  const m = buf.toString('latin1', 0, Math.min(buf.length, 16)).match(/^HTTP\/1\.[01] (\d{3})/);
  return m ? m[1] : 'none';
}

// One connection of attacker `kind`: `start(sock)` drives it; when it ends, the next one starts.
function loop(kind, start) {
  if (Date.now() >= until) return;
  const st = stats[kind];
  // a body attacker does not stop sending when it is answered: it keeps its side open
  const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: kind === 'bodies' });
  const opened = Date.now();
  const timers = [];
  let got = Buffer.alloc(0);
  let reset = false;
  st.connections++;
  sock.kind = kind;
  sock.opened = opened;
  open.add(sock);
  sock.on('data', (d) => { if (got.length < 64) got = Buffer.concat([got, d]); });
  sock.on('error', (e) => { reset = reset || e.code === 'ECONNRESET'; });
  // how long the server kept it: until its FIN (or a reset)
  sock.on('end', () => {
    if (kind === 'trickle') st.longest_ms = Math.max(st.longest_ms, Date.now() - opened);
  });
  sock.on('close', () => {
    for (const t of timers) clearInterval(t);
    open.delete(sock);
    const s = status(got);
    st.statuses[s] = (st.statuses[s] || 0) + 1;
    if (reset) st.resets++;
    if (kind === 'trickle' && reset) st.longest_ms = Math.max(st.longest_ms, Date.now() - opened);
    // the next connection, a little later when the server refused at once
    setTimeout(() => loop(kind, start), kind === 'headers' ? HEADERS_EVERY_MS : 10);
  });
  sock.on('connect', () => start(sock, timers));
}

function trickle(sock, timers) {
  const head = keyless();
  let i = 0;
  const next = () => { if (i < head.length && !sock.destroyed) sock.write(head[i++]); };
  next();
  timers.push(setInterval(next, TRICKLE_EVERY_MS));
}

function headers(sock) {
  stats.headers.bytes_sent += bigHead.length;
  sock.write(bigHead);
}

function bodies(sock, timers) {
  const chunk = Buffer.alloc(CHUNK, 0x61);
  let sent = 0;
  sock.write(keyless());
  timers.push(setInterval(() => {
    if (sock.destroyed || sent >= BODY) return;
    sock.write(chunk);
    sent += CHUNK;
    stats.bodies.bytes_sent += CHUNK;
  }, CHUNK_EVERY_MS));
}

// spread the starts over the first second, as real clients would arrive
const spread = (n, kind, fn) => {
  for (let i = 0; i < n; i++) setTimeout(() => loop(kind, fn), Math.floor((i * 1000) / n));
};
spread(nTrickle, 'trickle', trickle);
spread(nHeaders, 'headers', headers);
spread(nBodies, 'bodies', bodies);

setTimeout(() => {
  // a trickle the server still holds at the end was held at least this long
  const now = Date.now();
  for (const s of open) {
    if (s.kind === 'trickle' && !s.readableEnded)
      stats.trickle.longest_ms = Math.max(stats.trickle.longest_ms, now - s.opened);
    s.destroy();
  }
  // let the close handlers count, then report
  setTimeout(() => {
    console.log(JSON.stringify(stats));
    process.exit(0);
  }, 200);
}, seconds * 1000);
