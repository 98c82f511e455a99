#!/usr/bin/env node
'use strict';
// Check that the onnxruntime-node CPU binding loads and runs: builds a tiny
// ONNX model (y = x + x, float32[3]) in memory, runs it, prints the version.
const fs = require('fs');
const path = require('path');

// protobuf encoding helpers (field numbers from onnx.proto)
const varint = (n) => { const o = []; do { let b = n & 0x7f; n = Math.floor(n / 128); if (n) b |= 0x80; o.push(b); } while (n); return Buffer.from(o); };
const key = (f, w) => varint(f * 8 + w);
const int = (f, v) => Buffer.concat([key(f, 0), varint(v)]);
const msg = (f, ...parts) => { const b = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))); return Buffer.concat([key(f, 2), varint(b.length), b]); };
const valueInfo = (f, name) => msg(f, msg(1, name), msg(2, msg(1, int(1, 1), msg(2, msg(1, int(1, 3))))));
const model = Buffer.concat([
  int(1, 8), // ir_version
  msg(8, msg(1, ''), int(2, 13)), // opset_import {domain "", version 13}
  msg(7, msg(1, msg(1, 'x'), msg(1, 'x'), msg(2, 'y'), msg(4, 'Add')), msg(2, 'selftest'), valueInfo(11, 'x'), valueInfo(12, 'y')),
]);

(async () => {
  const dir = __dirname;
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules/onnxruntime-node/package.json'), 'utf8'));
  const ort = require('onnxruntime-node');
  const s = await ort.InferenceSession.create(model);
  const r = await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2, -3]), [3]) });
  const y = Array.from(r.y.data);
  if (y.join() !== '2,4,-6') throw new Error(`wrong result ${y}`);
  console.log(`onnxruntime-node ${pkg.version} (binding ${ort.env.versions.node}) OK on node ${process.version} ${process.platform}-${process.arch}`);
})().catch((e) => { process.stderr.write(`selftest: error: ${e.message}\n`); process.exit(1); });
