// A client that speaks raw bytes over TCP, for what a well-behaved HTTP
// library refuses to send (NUL bytes in headers, duplicate Content-Length, a
// head that never ends) and for watching what the server does and when: the
// bytes it answered, and whether it closed the connection cleanly (a FIN) or
// reset it.
import net from 'node:net';
import { waitFor } from './lib.mjs';

export class Raw {
  static open(port, host = '127.0.0.1') {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host);
      s.once('connect', () => { s.removeListener('error', reject); resolve(new Raw(s)); });
      s.once('error', reject);
    });
  }

  constructor(sock) {
    this.sock = sock;
    this.opened = Date.now();
    this.chunks = [];
    this.received = 0;
    this.error = null;
    sock.on('data', (d) => { this.chunks.push(d); this.received += d.length; });
    sock.on('error', (e) => { this.error = e.code || e.message; });
    // how it ended: 'fin' (the server closed cleanly), 'reset', or 'local' (we closed first)
    this.closed = new Promise((resolve) => {
      let how = null;
      sock.on('end', () => { how = how ?? 'fin'; });
      sock.on('close', () => {
        this.closedAt = Date.now();
        resolve(how ?? (this.error === 'ECONNRESET' || this.error === 'EPIPE' ? 'reset' : 'local'));
      });
    });
  }

  text() { return Buffer.concat(this.chunks).toString('latin1'); }

  // The status of the first response in what was received, or 0.
  status() {
    const m = this.text().match(/^HTTP\/1\.[01] (\d{3}) /);
    return m ? Number(m[1]) : 0;
  }

  get isClosed() { return this.closedAt !== undefined; }

  // Resolves once the kernel took the bytes (never, while the server does not read).
  write(bytes) {
    return new Promise((resolve) => {
      if (this.sock.destroyed) return resolve(false);
      this.sock.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes, (e) => resolve(!e));
    });
  }

  until(re, timeoutMs = 3000) {
    return waitFor(`the server to send ${re}`, () => re.test(this.text()), timeoutMs, 5);
  }

  // The whole first response (head and Content-Length body) once it is in.
  async response(timeoutMs = 3000) {
    await waitFor('a whole response', () => {
      const t = this.text();
      const end = t.indexOf('\r\n\r\n');
      if (end === -1) return false;
      const m = t.slice(0, end).match(/\r\ncontent-length: *(\d+)/i);
      return !m || t.length >= end + 4 + Number(m[1]);
    }, timeoutMs, 5);
    const t = this.text();
    const end = t.indexOf('\r\n\r\n');
    const head = t.slice(0, end);
    const headers = {};
    for (const l of head.split('\r\n').slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const len = Number(headers['content-length'] ?? 0);
    return { status: this.status(), headers, body: t.slice(end + 4, end + 4 + len) };
  }

  // Resolves to how the connection ended, or 'open' if it had not within timeoutMs.
  async closedWithin(timeoutMs) {
    let t;
    const open = new Promise((resolve) => { t = setTimeout(() => resolve('open'), timeoutMs); });
    const how = await Promise.race([this.closed, open]);
    clearTimeout(t);
    return how;
  }

  destroy() { this.sock.destroy(); }
}

// A request head as raw text, CRLF line ends; headers is a list of [name, value] (duplicates kept).
export function head(method, target, headers) {
  return `${method} ${target} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
}
