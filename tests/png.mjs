// A small PNG reader and writer (8-bit RGB and RGBA, no interlace: what
// Chromium's screenshots are), with node:zlib only. Used to trim the empty
// page bottom off a rendering and to tell a rendering from a blank one.
//   node tests/png.mjs trim FILE [MARGIN]   cut the rows below the content, in place
//   node tests/png.mjs stats FILE           print {width, height, colours, inked} as JSON
import { readFileSync, writeFileSync } from 'node:fs';
import zlib from 'node:zlib';

const SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);

function paeth(a, b, c) {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// → { width, height, channels, pixels: Buffer of rows without filter bytes }
export function decode(buf) {
  if (!buf.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG');
  let off = 8, width = 0, height = 0, channels = 0;
  const idat = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8], colour = data[9], interlace = data[12];
      if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0)
        throw new Error(`unsupported PNG: depth ${depth}, colour type ${colour}, interlace ${interlace}`);
      channels = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    off += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = pixels.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? row[i - channels] : 0;
      const b = up[i];
      const c = i >= channels ? up[i - channels] : 0;
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : paeth(a, b, c);
      row[i] = (src[i] + pred) & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

// Each row with the filter whose output has the smallest sum of magnitudes (libpng's heuristic).
export function encode({ width, height, channels, pixels }) {
  const stride = width * channels;
  const out = Buffer.alloc((stride + 1) * height);
  const cand = Array.from({ length: 5 }, () => Buffer.alloc(stride));
  for (let y = 0; y < height; y++) {
    const row = pixels.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    let best = 0, bestSum = Infinity;
    for (let f = 0; f < 5; f++) {
      let sum = 0;
      for (let i = 0; i < stride; i++) {
        const a = i >= channels ? row[i - channels] : 0;
        const b = up[i];
        const c = i >= channels ? up[i - channels] : 0;
        const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : paeth(a, b, c);
        const v = (row[i] - pred) & 0xff;
        cand[f][i] = v;
        sum += v < 128 ? v : 256 - v;
      }
      if (sum < bestSum) { bestSum = sum; best = f; }
    }
    out[y * (stride + 1)] = best;
    cand[best].copy(out, y * (stride + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = channels === 4 ? 6 : 2;
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(out, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

// The image without the rows below the last one that differs from the bottom row (+ margin).
export function trim(img, margin = 24) {
  const stride = img.width * img.channels;
  const bg = img.pixels.subarray((img.height - 1) * stride, img.height * stride);
  let last = img.height - 1;
  while (last > 0 && img.pixels.subarray(last * stride, (last + 1) * stride).equals(bg)) last--;
  const height = Math.min(img.height, last + 1 + margin);
  return { ...img, height, pixels: img.pixels.subarray(0, height * stride) };
}

// Distinct colours, and the share (per mille) of pixels that are not the page's background.
export function stats(img) {
  const colours = new Set();
  const { pixels, channels } = img;
  const bgKey = pixels.readUIntBE(0, 3);
  let inked = 0;
  for (let i = 0; i < pixels.length; i += channels) {
    const key = pixels.readUIntBE(i, 3);
    colours.add(key);
    if (key !== bgKey) inked++;
  }
  return { width: img.width, height: img.height, colours: colours.size,
    inkedPermille: Math.round((inked * 1000) / (img.width * img.height)) };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const [cmd, file, margin] = process.argv.slice(2);
  if (cmd === 'trim') {
    const img = trim(decode(readFileSync(file)), margin === undefined ? 24 : Number(margin));
    writeFileSync(file, encode(img));
    console.log(JSON.stringify(stats(img)));
  } else if (cmd === 'stats') {
    console.log(JSON.stringify(stats(decode(readFileSync(file)))));
  } else {
    console.error('usage: node tests/png.mjs trim|stats FILE [MARGIN]');
    process.exit(1);
  }
}
