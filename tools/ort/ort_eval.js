#!/usr/bin/env node
'use strict';
// Top-1/top-5 accuracy of a classifier in ONNX Runtime (CPU), computed exactly as
// `nncompress eval` does, so the two can be compared sample for sample:
//   - samples (first axis) are fed in batches of --batch-size (default 32, as nncompress);
//   - non-float data feeding a float input is converted to float32, then, if --scale/--mean/--std
//     are given, v = float32(double(v) * scale) (scale parsed as a double, 'A/B' = A/B in double),
//     v = float32(v - mean[c]), v = float32(v / std[c]) with c the channel axis 1
//     (src/data/dataset.cpp convertInput); float16 inputs get the result rounded to half;
//   - logits: the first output (or --logits NAME), [N, classes]; the rank of the label is the
//     number of classes scoring higher plus equal ones with a lower index (lowest index wins
//     ties; a NaN never scores higher); top-1: rank 0, top-5: rank < 5
//     (src/analysis/metrics.cpp AccuracyCounter).
// Prints one JSON line: {model, samples, top1_correct, top5_correct, top1, top5, seconds}.
const fs = require('fs');
const path = require('path');
const { DTYPES, readNpy, floatToHalf, halfToFloat } = require('./npy');

const USAGE = `usage: node ort_eval.js MODEL.onnx --data X.npy --labels Y.npy [options]
  --data [INPUT=]X.npy  samples, first axis = sample (the model's only input, or INPUT)
  --labels Y.npy        integer labels, shape [N] or [N,1]
  --scale F             multiply float-converted samples by F ('1/255' accepted; default 1)
  --mean a,b,c          per-channel mean subtracted after --scale (channel axis 1)
  --std a,b,c           per-channel std divided by after --mean
  --batch-size N        samples per run (default 32)
  --limit N             only the first N samples
  --logits NAME         output holding [N, classes] scores (default: the first)
  --threads N           ORT intra-op threads (default: ORT's choice)
  --opt-level L         graph optimization: disabled|basic|extended|all (default all)`;

function die(msg, code = 1) { process.stderr.write(`ort_eval: error: ${msg}\n`); process.exit(code); }

function parseScale(text) {
  const slash = text.indexOf('/');
  const num = (s) => (/^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s) ? Number(s) : NaN);
  const v = slash < 0 ? num(text) : num(text.slice(0, slash)) / num(text.slice(slash + 1));
  if (!Number.isFinite(v)) die(`--scale: '${text}' is not a number or a fraction like 1/255`, 2);
  return v;
}

function parseArgs(argv) {
  const a = { model: null, data: null, input: null, labels: null, scale: 1, mean: [], std: [], batch: 32, limit: 0, logits: null, threads: null, opt: 'all' };
  const floats = (s) => s.split(',').map((x) => { const v = Math.fround(Number(x)); if (Number.isNaN(v)) die(`bad number '${x}'`, 2); return v; });
  for (let i = 0; i < argv.length; i++) {
    const o = argv[i], v = () => { if (i + 1 >= argv.length) die(`${o} needs a value`, 2); return argv[++i]; };
    if (o === '--data') {
      const s = v(), eq = s.indexOf('=');
      // NAME=PATH only when the '=' comes before any '/' (as nncompress)
      if (eq > 0 && (s.indexOf('/') < 0 || s.indexOf('/') > eq)) { a.input = s.slice(0, eq); a.data = s.slice(eq + 1); } else a.data = s;
    } else if (o === '--labels') a.labels = v();
    else if (o === '--scale') a.scale = parseScale(v());
    else if (o === '--mean') a.mean = floats(v());
    else if (o === '--std') a.std = floats(v());
    else if (o === '--batch-size') a.batch = Number(v());
    else if (o === '--limit') a.limit = Number(v());
    else if (o === '--logits') a.logits = v();
    else if (o === '--threads') a.threads = Number(v());
    else if (o === '--opt-level') a.opt = v();
    else if (o === '-h' || o === '--help') { console.log(USAGE); process.exit(0); }
    else if (o.startsWith('-')) die(`unknown option ${o}\n${USAGE}`, 2);
    else if (!a.model) a.model = o;
    else die(`unexpected argument ${o}`, 2);
  }
  if (!a.model || !a.data || !a.labels) die(`MODEL, --data and --labels are required\n${USAGE}`, 2);
  if (!Number.isInteger(a.batch) || a.batch < 1) die('--batch-size must be a positive integer', 2);
  if (!Number.isInteger(a.limit) || a.limit < 0) die('--limit must be a non-negative integer', 2);
  return a;
}

// Samples [begin, begin+n) of x converted for an input of dtype `want` (as nncompress convertInput).
function makeBatch(x, begin, n, want, a) {
  const per = x.shape.slice(1).reduce((p, d) => p * d, 1);
  const shape = [n, ...x.shape.slice(1)];
  const count = n * per;
  const src = x.data;
  const pre = a.scale !== 1 || a.mean.length > 0 || a.std.length > 0;
  if (x.dtype === want && !(want === 'float32' && pre)) {
    const T = DTYPES[want][1];
    return { shape, data: new T(src.buffer.slice(src.byteOffset + begin * per * src.BYTES_PER_ELEMENT, src.byteOffset + (begin + n) * per * src.BYTES_PER_ELEMENT)) };
  }
  if (want !== 'float32' && want !== 'float16') die(`data of type ${x.dtype} cannot feed an input of type ${want}`);
  const get = x.dtype === 'float16' ? (i) => halfToFloat(src[i]) : x.dtype === 'bool' ? null : (i) => Math.fround(Number(src[i]));
  if (!get) die(`data of type ${x.dtype} cannot feed a float input`);
  const vals = new Float32Array(count);
  const channels = x.shape.length > 1 ? x.shape[1] : 1;
  const inner = x.shape.slice(2).reduce((p, d) => p * d, 1);
  for (const [nm, list] of [['--mean', a.mean], ['--std', a.std]]) {
    if (list.length > 1 && list.length !== channels) die(`${nm} has ${list.length} values for ${channels} channels`, 2);
  }
  const off = begin * per;
  for (let i = 0; i < count; i++) {
    let v = get(off + i);
    if (pre) {
      const c = channels > 0 ? Math.floor(i / inner) % channels : 0;
      v = Math.fround(v * a.scale); // double product, rounded once to float32
      if (a.mean.length) v = Math.fround(v - a.mean[a.mean.length === 1 ? 0 : c]);
      if (a.std.length) v = Math.fround(v / a.std[a.std.length === 1 ? 0 : c]);
    }
    vals[i] = v;
  }
  if (want === 'float32') return { shape, data: vals };
  const half = new Uint16Array(count);
  for (let i = 0; i < count; i++) half[i] = floatToHalf(vals[i]);
  return { shape, data: half };
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  let ort;
  try { ort = require('onnxruntime-node'); } catch (e) { die(`cannot load onnxruntime-node (run tools/ort/install.sh): ${e.message}`); }
  if (!fs.existsSync(a.model)) die(`model not found: ${a.model}`);
  let x, y;
  try { x = readNpy(a.data); y = readNpy(a.labels); } catch (e) { die(e.message); }
  if (y.shape.length > 2 || (y.shape.length === 2 && y.shape[1] !== 1)) die(`labels '${a.labels}' must have shape [N] or [N,1], not [${y.shape}]`);
  if (!/^u?int(8|16|32|64)$/.test(y.dtype)) die(`labels '${a.labels}' must be integers, not ${y.dtype}`);
  const labels = Array.from(y.data, Number);
  if (labels.length !== x.shape[0]) die(`there are ${labels.length} labels for ${x.shape[0]} samples`);

  const opts = { graphOptimizationLevel: a.opt, executionMode: 'sequential', interOpNumThreads: 1 };
  if (a.threads !== null) opts.intraOpNumThreads = a.threads;
  let session;
  try { session = await ort.InferenceSession.create(path.resolve(a.model), opts); } catch (e) { die(`cannot load ${a.model}: ${e.message}`); }
  if (session.inputNames.length !== 1 && !a.input) die(`the model has ${session.inputNames.length} inputs; give --data NAME=PATH`);
  const inputName = a.input || session.inputNames[0];
  const meta = session.inputMetadata.find((m) => m.name === inputName);
  if (!meta) die(`the model has no input '${inputName}'`);
  if (session.inputNames.length !== 1) die('only single-input models are supported');
  const outName = a.logits || session.outputNames[0];
  if (!session.outputNames.includes(outName)) die(`--logits: the model has no output '${outName}'`);

  const total = a.limit > 0 ? Math.min(a.limit, x.shape[0]) : x.shape[0];
  let top1 = 0, top5 = 0, samples = 0;
  const t0 = process.hrtime.bigint();
  for (let begin = 0; begin < total; begin += a.batch) {
    const n = Math.min(a.batch, total - begin);
    const b = makeBatch(x, begin, n, meta.type, a);
    let r;
    try { r = await session.run({ [inputName]: new ort.Tensor(meta.type, b.data, b.shape) }); } catch (e) { die(`run failed: ${e.message}`); }
    const out = r[outName];
    if (out.dims.length < 2) die(`classifier output must be [N, classes], got rank ${out.dims.length}`);
    const rows = out.dims[0];
    const cols = out.data.length / Math.max(rows, 1);
    const val = out.type === 'float16' ? (i) => halfToFloat(out.data[i]) : (i) => Number(out.data[i]);
    for (let row = 0; row < rows; row++) {
      const label = labels[begin + row];
      if (label < 0 || label >= cols) die(`label ${label} of sample ${begin + row} is outside the model's ${cols} classes`);
      const target = val(row * cols + label);
      let better = 0;
      for (let c = 0; c < cols; c++) {
        const v = val(row * cols + c);
        if (v > target || (v === target && c < label)) better++;
      }
      if (better === 0) top1++;
      if (better < 5) top5++;
      samples++;
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({
    model: a.model, samples, top1_correct: top1, top5_correct: top5,
    top1: samples ? top1 / samples : 0, top5: samples ? top5 / samples : 0, seconds,
  }));
}

main().catch((e) => die(e.stack || String(e)));
