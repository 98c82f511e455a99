#!/usr/bin/env node
'use strict';
// Run an ONNX model with ONNX Runtime (CPU) and save inputs and outputs as .npy.
// See README.md for the options and the pseudo-random input generator.
const fs = require('fs');
const path = require('path');
const { DTYPES, numel, readNpy, writeNpy, readTensorPb, floatToHalf } = require('./npy');

const USAGE = `usage: node ort_run.js MODEL.onnx --out DIR [options]
  --input NAME=FILE     feed input NAME from FILE (.npy or ONNX TensorProto .pb); repeatable
  --inputs-dir DIR      feed every input that has DIR/<sanitized name>.npy (e.g. a previous run's OUT/inputs)
  --const NAME=VALUE    feed input NAME filled with VALUE (dtype and shape from the model); repeatable
  --shape NAME=AxBxC    shape to use for generated input NAME ('x' or ',' separated; '' for a scalar)
  --dim SYMBOL=VALUE    value of a symbolic dimension (default 1); repeatable
  --random-seed S       seed of the generated inputs (default 0)
  --no-random           fail if an input would be generated (not given by --input/--inputs-dir/--const)
  --threads N           intra-op threads (default: ONNX Runtime's choice)
  --opt-level L         graph optimization: disabled|basic|extended|all (default all)`;

function die(msg, code = 1) { process.stderr.write(`ort_run: error: ${msg}\n`); process.exit(code); }

function parseArgs(argv) {
  const a = { model: null, out: null, inputs: {}, consts: {}, shapes: {}, dims: {}, inputsDir: null, noRandom: false, seed: 0, threads: null, opt: 'all' };
  const kv = (s, opt) => {
    const i = s === undefined ? -1 : s.indexOf('=');
    if (i <= 0) die(`${opt} expects NAME=VALUE\n${USAGE}`, 2);
    return [s.slice(0, i), s.slice(i + 1)];
  };
  for (let i = 0; i < argv.length; i++) {
    const o = argv[i], v = () => { if (i + 1 >= argv.length) die(`${o} needs a value`, 2); return argv[++i]; };
    if (o === '--out') a.out = v();
    else if (o === '--input') { const [k, f] = kv(v(), o); a.inputs[k] = f; }
    else if (o === '--inputs-dir') a.inputsDir = v();
    else if (o === '--const') { const [k, x] = kv(v(), o); a.consts[k] = x; }
    else if (o === '--shape') { const [k, x] = kv(v(), o); a.shapes[k] = x === '' ? [] : x.split(/[x,]/).map(Number); }
    else if (o === '--dim') { const [k, x] = kv(v(), o); a.dims[k] = Number(x); }
    else if (o === '--random-seed') a.seed = Number(v());
    else if (o === '--no-random') a.noRandom = true;
    else if (o === '--threads') a.threads = Number(v());
    else if (o === '--opt-level') a.opt = v();
    else if (o === '-h' || o === '--help') { console.log(USAGE); process.exit(0); }
    else if (o.startsWith('-')) die(`unknown option ${o}\n${USAGE}`, 2);
    else if (!a.model) a.model = o;
    else die(`unexpected argument ${o}`, 2);
  }
  if (!a.model || !a.out) die(`MODEL and --out are required\n${USAGE}`, 2);
  if (!Number.isInteger(a.seed) || a.seed < 0) die('--random-seed must be a non-negative integer', 2);
  for (const [k, s] of Object.entries(a.shapes)) if (s.some((d) => !Number.isInteger(d) || d < 0)) die(`bad --shape for ${k}`, 2);
  for (const [k, d] of Object.entries(a.dims)) if (!Number.isInteger(d) || d < 0) die(`bad --dim ${k}`, 2);
  return a;
}

// File-name-safe form of a tensor name; used for both outputs and saved inputs.
const sanitize = (name) => (name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_') || '_');

// Deterministic generator: mulberry32, one stream per input, seeded with
// (seed + fnv1a32(input name)) mod 2^32, so an input's data depends only on
// the seed, its name, dtype and shape.
function fnv1a32(s) {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(s, 'utf8')) { h ^= c; h = Math.imul(h, 0x01000193) >>> 0; }
  return h;
}
function mulberry32(a) {
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
function randomData(dtype, n, seed, name) {
  const next = mulberry32((seed + fnv1a32(name)) >>> 0);
  const T = DTYPES[dtype][1], out = new T(n);
  for (let i = 0; i < n; i++) {
    const u = next();
    const f = (u >>> 8) / 2 ** 23 - 1; // uniform [-1,1), exact in float32
    if (dtype === 'float32' || dtype === 'float64') out[i] = f;
    else if (dtype === 'float16') out[i] = floatToHalf(f);
    else if (dtype === 'bool') out[i] = u & 1;
    else if (dtype === 'int64' || dtype === 'uint64') out[i] = BigInt(u % 8);
    else out[i] = u % 8; // small non-negative ints: 0..7
  }
  return out;
}

function constData(dtype, n, value) {
  const T = DTYPES[dtype][1], out = new T(n);
  let v;
  if (dtype === 'float16') v = floatToHalf(Number(value));
  else if (dtype === 'int64' || dtype === 'uint64') v = BigInt(value);
  else if (dtype === 'bool') v = value === 'true' || value === '1' ? 1 : 0;
  else v = Number(value);
  if (typeof v === 'number' && Number.isNaN(v) && value !== 'nan' && value !== 'NaN') die(`--const value '${value}' is not a number`);
  return out.fill(v);
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  let ort;
  try { ort = require('onnxruntime-node'); } catch (e) { die(`cannot load onnxruntime-node (run tools/ort/install.sh): ${e.message}`); }
  if (!fs.existsSync(a.model)) die(`model not found: ${a.model}`);

  const opts = { graphOptimizationLevel: a.opt, executionMode: 'sequential', interOpNumThreads: 1 };
  if (a.threads !== null) opts.intraOpNumThreads = a.threads;
  const t0 = Date.now();
  let session;
  try { session = await ort.InferenceSession.create(path.resolve(a.model), opts); } catch (e) { die(`cannot load ${a.model}: ${e.message}`); }
  const loadMs = Date.now() - t0;

  const known = new Set(session.inputNames);
  for (const m of [a.inputs, a.consts, a.shapes]) for (const k of Object.keys(m)) if (!known.has(k)) die(`model has no input '${k}' (inputs: ${session.inputNames.join(', ')})`);

  const feeds = {}, inSummary = [], toWrite = [];
  for (const meta of session.inputMetadata) {
    const name = meta.name;
    if (!meta.isTensor) die(`input '${name}' is not a tensor`);
    const want = meta.type;
    if (!DTYPES[want]) die(`input '${name}' has unsupported type ${want}`);
    let t, source;
    const fromDir = a.inputsDir && path.join(a.inputsDir, sanitize(name) + '.npy');
    const file = a.inputs[name] || (fromDir && fs.existsSync(fromDir) ? fromDir : null);
    if (file) {
      try { t = file.endsWith('.pb') ? readTensorPb(file) : readNpy(file); } catch (e) { die(e.message); }
      if (t.dtype !== want) die(`input '${name}': ${file} has dtype ${t.dtype}, model wants ${want}`);
      source = file;
    } else {
      let shape = a.shapes[name];
      if (!shape) {
        shape = meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : (a.dims[d] ?? 1)));
      }
      const n = numel(shape);
      if (a.consts[name] !== undefined) { t = { shape, data: constData(want, n, a.consts[name]) }; source = `const:${a.consts[name]}`; }
      else if (a.noRandom) die(`input '${name}' not given${a.inputsDir ? ` (no ${fromDir})` : ''} and --no-random set`);
      else { t = { shape, data: randomData(want, n, a.seed, name) }; source = `random:${a.seed}`; }
    }
    const ms = meta.shape;
    if (ms.length && t.shape.length !== ms.length) die(`input '${name}': rank ${t.shape.length} [${t.shape}], model wants [${ms}]`);
    ms.forEach((d, i) => { if (typeof d === 'number' && d >= 0 && t.shape[i] !== d) die(`input '${name}': shape [${t.shape}], model wants [${ms}]`); });
    feeds[name] = new ort.Tensor(want, t.data, t.shape);
    const saved = path.join('inputs', sanitize(name) + '.npy');
    toWrite.push([saved, want, t.shape, t.data]);
    inSummary.push({ name, dtype: want, shape: t.shape, source, file: saved });
  }

  // Fresh output: drop .npy files left by an earlier run in DIR and DIR/inputs.
  for (const d of [a.out, path.join(a.out, 'inputs')]) {
    fs.mkdirSync(d, { recursive: true });
    for (const f of fs.readdirSync(d)) if (f.endsWith('.npy')) fs.rmSync(path.join(d, f));
  }
  for (const [f, ...rest] of toWrite) writeNpy(path.join(a.out, f), ...rest);

  const t1 = Date.now();
  let results;
  try { results = await session.run(feeds); } catch (e) { die(`run failed: ${e.message}`); }
  const runMs = Date.now() - t1;

  const outSummary = [], used = new Set();
  for (const name of session.outputNames) {
    const r = results[name];
    if (!r || !DTYPES[r.type]) die(`output '${name}' has unsupported type ${r && r.type}`);
    let base = sanitize(name), k = 1;
    while (used.has(base)) base = `${sanitize(name)}__${k++}`;
    used.add(base);
    writeNpy(path.join(a.out, base + '.npy'), r.type, r.dims, r.data);
    outSummary.push({ name, dtype: r.type, shape: r.dims, file: base + '.npy' });
  }
  const summary = {
    model: a.model, ort: ort.env.versions.node || null, seed: a.seed, threads: a.threads, opt: a.opt,
    load_ms: loadMs, run_ms: runMs, inputs: inSummary, outputs: outSummary,
  };
  fs.writeFileSync(path.join(a.out, 'summary.json'), JSON.stringify(summary, null, 1) + '\n');
  console.log(JSON.stringify(summary));
}

main().catch((e) => die(e.stack || String(e)));
