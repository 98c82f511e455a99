#!/usr/bin/env node
'use strict';
// Print a one-line JSON summary of an ONNX model file, read with a minimal
// protobuf walker (no ONNX Runtime needed): ir_version, opsets, node counts
// (top graph and including subgraphs), initializers, how many use external data.
const fs = require('fs');

function* fields(b, p, end) {
  const varint = () => {
    let r = 0, m = 1, x;
    do { if (p >= end) throw new Error('truncated protobuf'); x = b[p++]; r += (x & 0x7f) * m; m *= 128; } while (x & 0x80);
    return r;
  };
  while (p < end) {
    const k = varint(), f = Math.floor(k / 8), w = k % 8;
    if (w === 0) yield { f, v: varint() };
    else if (w === 1) { p += 8; } else if (w === 5) { p += 4; }
    else if (w === 2) { const n = varint(); yield { f, s: p, e: p + n }; p += n; }
    else throw new Error(`bad protobuf wire type ${w}`);
  }
}
const str = (b, x) => b.toString('utf8', x.s, x.e);

function graphInfo(b, s, e, acc, top) {
  for (const x of fields(b, s, e)) {
    if (x.f === 1 && x.s !== undefined) { // node
      acc.nodesAll++; if (top) acc.nodes++;
      for (const a of fields(b, x.s, x.e)) {
        if (a.f === 4) { const op = str(b, a); acc.ops[op] = (acc.ops[op] || 0) + 1; }
        if (a.f === 5) for (const g of fields(b, a.s, a.e)) if ((g.f === 6 || g.f === 11) && g.s !== undefined) graphInfo(b, g.s, g.e, acc, false);
      }
    } else if (x.f === 5 && x.s !== undefined) { // initializer
      if (top) acc.initializers++;
      for (const t of fields(b, x.s, x.e)) if (t.f === 14 && t.v === 1) acc.externalInitializers++;
    } else if (top && x.f === 11) acc.inputs++;
    else if (top && x.f === 12) acc.outputs++;
  }
}

function onnxInfo(file) {
  const b = fs.readFileSync(file);
  const info = { file, bytes: b.length, ir_version: null, opsets: {}, nodes: 0, nodesAll: 0, initializers: 0, externalInitializers: 0, inputs: 0, outputs: 0, ops: {} };
  for (const x of fields(b, 0, b.length)) {
    if (x.f === 1 && x.v !== undefined) info.ir_version = x.v;
    else if (x.f === 8 && x.s !== undefined) {
      let dom = '', ver = 0;
      for (const o of fields(b, x.s, x.e)) { if (o.f === 1) dom = str(b, o); if (o.f === 2) ver = o.v; }
      info.opsets[dom || 'ai.onnx'] = ver;
    } else if (x.f === 7 && x.s !== undefined) graphInfo(b, x.s, x.e, info, true);
  }
  return info;
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file || process.argv.length > 3) { process.stderr.write('usage: node onnx_info.js MODEL.onnx\n'); process.exit(2); }
  try { console.log(JSON.stringify(onnxInfo(file))); } catch (e) { process.stderr.write(`onnx_info: error: ${file}: ${e.message}\n`); process.exit(1); }
}
module.exports = { onnxInfo };
