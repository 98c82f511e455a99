'use strict';
// Builds random models of the quantized ops, runs them in ONNX Runtime (CPU, no graph
// optimization) and writes backend-test style folders (model.onnx, test_data_set_0/*.pb) that
// tests/ops/quant_test.cpp compares bit for bit when NNC_QUANT_ORT_CASES points at them:
//   node tools/ort/quant_cases.js /tmp/quant_cases
//   NNC_QUANT_ORT_CASES=/tmp/quant_cases build/tests/ops_tests --gtest_filter='*OnnxRuntime*'
// Int8 weights are drawn from [-64, 63]: ORT's AVX2 u8 x s8 GEMM (vpmaddubsw) saturates pairs
// of products above 32767, which nncompress's exact kernels do not reproduce.
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules/onnxruntime-node'));
const varint = (n) => { const o = []; let v = BigInt(n); if (v < 0n) v += 1n << 64n; do { let b = Number(v & 0x7fn); v >>= 7n; if (v) b |= 0x80; o.push(b); } while (v); return Buffer.from(o); };
const key = (f, w) => varint(f * 8 + w);
const int = (f, v) => Buffer.concat([key(f, 0), varint(v)]);
const msg = (f, ...parts) => { const b = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))); return Buffer.concat([key(f, 2), varint(b.length), b]); };
const TYPES = { float32: [1, Float32Array], uint8: [2, Uint8Array], int8: [3, Int8Array], int32: [6, Int32Array] };
const vinfo = (f, name, type) => msg(f, msg(1, name), msg(2, msg(1, int(1, TYPES[type][0]))));
const attrInts = (name, vals) => msg(5, msg(1, name), int(20, 7), ...vals.map((v) => int(8, v)));
const attrInt = (name, v) => msg(5, msg(1, name), int(20, 2), int(3, v));
const tensorPb = (t) => Buffer.concat([...t.dims.map((d) => int(1, d)), int(2, TYPES[t.type][0]), msg(9, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))]);
let seed = 12345;
const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
const rand = (type, dims, lo, hi) => { const n = dims.reduce((a, b) => a * b, 1); const a = new TYPES[type][1](n); for (let i = 0; i < n; ++i) a[i] = type === 'float32' ? lo + (hi - lo) * rnd() : Math.floor(lo + (hi - lo + 1) * rnd()); return { type, dims, data: a }; };
const scalar = (type, v) => ({ type, dims: [], data: TYPES[type][1].from([v]) });

async function makeCase(name, op, inputs, outputs, attrs, domain = '') {
  const names = Object.keys(inputs);
  const node = msg(1, ...names.map((n) => msg(1, n)), ...outputs.map(([n]) => msg(2, n)), msg(4, op), ...attrs, ...(domain ? [msg(7, domain)] : []));
  const graph = msg(7, node, msg(2, name), ...names.map((n) => vinfo(11, n, inputs[n].type)), ...outputs.map(([n, t]) => vinfo(12, n, t)));
  const opsets = [msg(8, msg(1, ''), int(2, 13))];
  if (domain) opsets.push(msg(8, msg(1, domain), int(2, 1)));
  const model = Buffer.concat([int(1, 8), ...opsets, graph]);
  const s = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
  const feeds = {};
  for (const n of names) feeds[n] = new ort.Tensor(inputs[n].type, inputs[n].data, inputs[n].dims);
  const r = await s.run(feeds);
  const dir = path.join(process.argv[2], name, 'test_data_set_0');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(process.argv[2], name, 'model.onnx'), model);
  names.forEach((n, i) => fs.writeFileSync(path.join(dir, `input_${i}.pb`), tensorPb(inputs[n])));
  outputs.forEach(([n, t], i) => fs.writeFileSync(path.join(dir, `output_${i}.pb`), tensorPb({ type: t, dims: r[n].dims, data: r[n].data })));
}

(async () => {
  for (let it = 0; it < 3; ++it) {
    await makeCase(`convinteger_${it}`, 'ConvInteger',
      { x: rand('uint8', [1, 8, 13, 11], 0, 255), w: rand('uint8', [16, 8, 3, 3], 0, 255), xz: scalar('uint8', 100 + it), wz: scalar('uint8', 17 + it * 50) },
      [['y', 'int32']], [attrInts('pads', [1, 1, 1, 1]), attrInts('strides', [1 + it % 2, 1])]);
    await makeCase(`qlinearconv_${it}`, 'QLinearConv',
      { x: rand('uint8', [2, 6, 10, 9], 0, 255), xs: scalar('float32', 0.02), xz: scalar('uint8', 128), w: rand('int8', [12, 3, 3, 3], -64, 63),
        ws: rand('float32', [12], 0.001, 0.01), wz: rand('int8', [12], 0, 0), ys: scalar('float32', 0.05 + 0.01 * it), yz: scalar('uint8', 120),
        b: rand('int32', [12], -5000, 5000) },
      [['y', 'uint8']], [attrInts('pads', [1, 2, 1, 0]), attrInts('strides', [2, 1]), attrInt('group', 2)]);
    await makeCase(`qlinearmatmul_${it}`, 'QLinearMatMul',
      { a: rand('uint8', [2, 5, 33], 0, 255), as: scalar('float32', 0.03), az: scalar('uint8', 7), b: rand('int8', [33, 19], -64, 63),
        bs: scalar('float32', 0.011), bz: scalar('int8', 0), ys: scalar('float32', 0.2 + it * 0.1), yz: scalar('uint8', 90) },
      [['y', 'uint8']], []);
    await makeCase(`matmulinteger_${it}`, 'MatMulInteger',
      { a: rand('uint8', [3, 7, 45], 0, 255), b: rand('int8', [45, 21], -64, 63), az: scalar('uint8', 3), bz: scalar('int8', -2) },
      [['y', 'int32']], []);
    const x = rand('float32', [1000], -10, 10);
    for (let i = 0; i < 200; ++i) x.data[i] = (i - 100) * 0.5 * 0.125;  // ties at scale 0.125
    await makeCase(`quantizelinear_${it}`, 'QuantizeLinear', { x, s: scalar('float32', 0.125), z: scalar(it % 2 ? 'int8' : 'uint8', it % 2 ? -3 : 7) },
      [['y', it % 2 ? 'int8' : 'uint8']], []);
    await makeCase(`dynamicquantizelinear_${it}`, 'DynamicQuantizeLinear', { x: rand('float32', [3, 500], -3 + it, 5) },
      [['y', 'uint8'], ['ys', 'float32'], ['yz', 'uint8']], []);
    await makeCase(`qlinearadd_${it}`, 'QLinearAdd',
      { a: rand('uint8', [4, 50], 0, 255), as: scalar('float32', 0.05), az: scalar('uint8', 128), b: rand('uint8', [50], 0, 255),
        bs: scalar('float32', 0.07), bz: scalar('uint8', 100), cs: scalar('float32', 0.1), cz: scalar('uint8', 110) },
      [['y', 'uint8']], [], 'com.microsoft');
    await makeCase(`qlinearadd_scalar_${it}`, 'QLinearAdd',
      { a: it === 1 ? rand('int8', [1], -128, 127) : rand('int8', [3, 40], -128, 127), as: scalar('float32', 0.05), az: scalar('int8', 3),
        b: it === 1 ? rand('int8', [3, 40], -128, 127) : rand('int8', [1], -128, 127), bs: scalar('float32', 0.07), bz: scalar('int8', -4),
        cs: scalar('float32', 0.09), cz: scalar('int8', 2) },
      [['y', 'int8']], [], 'com.microsoft');
    await makeCase(`qlinearmul_${it}`, 'QLinearMul',
      { a: rand('int8', [4, 50], -128, 127), as: scalar('float32', 0.05), az: scalar('int8', 0), b: rand('int8', [4, 50], -128, 127),
        bs: scalar('float32', 0.07), bz: scalar('int8', 10), cs: scalar('float32', 0.3), cz: scalar('int8', -5) },
      [['y', 'int8']], [], 'com.microsoft');
    await makeCase(`qlinearglobalaveragepool_${it}`, 'QLinearGlobalAveragePool',
      { x: rand('uint8', [2, 5, 7, 7], 0, 255), xs: scalar('float32', 0.05), xz: scalar('uint8', 128), ys: scalar('float32', 0.03), yz: scalar('uint8', 100) },
      [['y', 'uint8']], [], 'com.microsoft');
  }
  console.log('ok');
})().catch((e) => { console.error(e); process.exit(1); });
