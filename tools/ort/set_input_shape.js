#!/usr/bin/env node
'use strict';
// Copy an ONNX model with the declared shapes of some graph inputs replaced:
//   node set_input_shape.js IN.onnx OUT.onnx --shape NAME=batch,samples [--shape NAME=2,batch,128 ...]
// Each dim is a number (fixed dim_value) or a name (symbolic dim_param); '' for a scalar.
// Everything else is copied byte for byte (only ModelProto.graph.input[NAME].type.tensor_type.shape
// is re-encoded). Used by the benchmarks for models whose symbolic dims have no name (silero VAD
// v5/v6): `nncompress bench --dim` can only set named dims, and fixing them to values makes
// ORT's shape inference fail inside silero's If branches, so they get names. Models with external data are not
// supported (the copy would not find its data file unless written beside it).
const fs = require('fs');

function die(msg, code = 1) { process.stderr.write(`set_input_shape: error: ${msg}\n`); process.exit(code); }

const argv = process.argv.slice(2);
const files = [], shapes = {};
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--shape') {
    const s = argv[++i] || '', eq = s.indexOf('=');
    if (eq <= 0) die('--shape expects NAME=D1,D2,...', 2);
    shapes[s.slice(0, eq)] = s.slice(eq + 1) === '' ? [] : s.slice(eq + 1).split(',').map((d) => (/^\d+$/.test(d) ? Number(d) : d));
  } else files.push(argv[i]);
}
if (files.length !== 2 || !Object.keys(shapes).length) die('usage: node set_input_shape.js IN.onnx OUT.onnx --shape NAME=D1,D2,... ...', 2);

// ---- protobuf wire format ----
function readVarint(b, p) {
  let r = 0n, s = 0n;
  for (;;) { const c = b[p++]; r |= BigInt(c & 0x7f) << s; s += 7n; if (!(c & 0x80)) return [r, p]; }
}
function varint(n) {
  let v = BigInt(n); const o = [];
  do { let c = Number(v & 0x7fn); v >>= 7n; if (v) c |= 0x80; o.push(c); } while (v);
  return Buffer.from(o);
}
// -> [{field, wire, start, end, body: [start, end] for length-delimited}]
function fields(b) {
  const out = [];
  let p = 0;
  while (p < b.length) {
    const start = p;
    let key; [key, p] = readVarint(b, p);
    const field = Number(key >> 3n), wire = Number(key & 7n);
    let body = null;
    if (wire === 0) [, p] = readVarint(b, p);
    else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else if (wire === 2) { let len; [len, p] = readVarint(b, p); body = [p, p + Number(len)]; p += Number(len); }
    else throw new Error(`unsupported wire type ${wire}`);
    out.push({ field, wire, start, end: p, body });
  }
  if (p !== b.length) throw new Error('truncated protobuf');
  return out;
}
const lenField = (f, body) => Buffer.concat([varint(f * 8 + 2), varint(body.length), body]);
// Replace each length-delimited field `f` for which fn(body) returns a Buffer.
function rewrite(b, f, fn) {
  const parts = [];
  let changed = false;
  for (const x of fields(b)) {
    const nb = x.field === f && x.wire === 2 ? fn(b.subarray(x.body[0], x.body[1])) : null;
    if (nb) { parts.push(lenField(f, nb)); changed = true; } else parts.push(b.subarray(x.start, x.end));
  }
  return changed ? Buffer.concat(parts) : null;
}
const str = (b, f) => { const x = fields(b).find((y) => y.field === f && y.wire === 2); return x ? b.toString('utf8', x.body[0], x.body[1]) : null; };

const model = fs.readFileSync(files[0]);
const done = new Set();
const out = rewrite(model, 7, (graph) => rewrite(graph, 11, (vi) => {
  const name = str(vi, 1);
  if (!(name in shapes)) return null;
  done.add(name);
  const dims = Buffer.concat(shapes[name].map((d) => lenField(1, typeof d === 'number' ? Buffer.concat([varint(8), varint(d)]) : lenField(2, Buffer.from(d)))));
  // type (2) -> tensor_type (1) -> shape (2): replace, or add when absent
  return rewrite(vi, 2, (type) => rewrite(type, 1, (tt) => {
    const r = rewrite(tt, 2, () => dims);
    return r || Buffer.concat([tt, lenField(2, dims)]);
  }));
}));
for (const n of Object.keys(shapes)) if (!done.has(n)) die(`${files[0]} has no graph input '${n}'`);
fs.writeFileSync(files[1], out);
