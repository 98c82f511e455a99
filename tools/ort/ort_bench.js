#!/usr/bin/env node
'use strict';
// Latency of a model in ONNX Runtime (CPU), measured like `nncompress bench`:
//   - inputs: the same seeded random data as nncompress's randomInputs (src/data/random_inputs.cpp):
//     per input a splitmix64 stream seeded with seed ^ fnv1a64(name); floats
//     float32((u >> 40) / 2^24 * 2 - 1), integers u % 8, bools u & 1; shape: fixed dims kept,
//     a named symbolic dim from --dim, else the batch size for the first dim and 1 for the others.
//     So control flow that depends on input values (e.g. an If on a sample-rate input) takes the
//     same branch in both runtimes;
//   - per batch size: --warmup untimed runs (3), then at least --runs (20) timed runs and at least
//     --min-seconds (1.0) of measured time; p50/p90/p99 with linear interpolation between ranks;
//     throughput = batch / p50. A fixed batch dim runs at its size (as nncompress).
//   - session: intraOpNumThreads --threads (default: ORT's choice), interOpNumThreads 1,
//     sequential execution, graph optimization --opt-level (default all).
// Times are wall-clock around `await session.run(feeds)` (including the copy of the outputs
// into JS buffers, as nncompress's times include allocating its output tensors).
// Output: a table, or with --json the same schema as `nncompress bench --json`:
//   {"model", "threads", "results": [{"batch", "runs", "p50_ms", "p90_ms", "p99_ms", "samples_per_s"}],
//    "peak_rss_bytes", "load_ms", "ort"}
const fs = require('fs');
const path = require('path');
const { DTYPES, floatToHalf } = require('./npy');

const USAGE = `usage: node ort_bench.js MODEL.onnx [options]
  --batch-sizes 1,32   batch sizes to measure (default 1)
  --warmup N           untimed runs before measuring (default 3)
  --runs N             timed runs at least (default 20)
  --min-seconds S      keep running until this much time is measured (default 1.0)
  --dim SYMBOL=VALUE   symbolic dims other than the batch (repeatable)
  --threads N          ORT intra-op threads (default: ORT's choice)
  --seed S             input seed (default 0, as nncompress)
  --opt-level L        disabled|basic|extended|all (default all)
  --json               one JSON line (nncompress bench --json schema)`;

function die(msg, code = 1) { process.stderr.write(`ort_bench: error: ${msg}\n`); process.exit(code); }

function parseArgs(argv) {
  const a = { model: null, batches: [1], warmup: 3, runs: 20, minSeconds: 1.0, dims: {}, threads: null, seed: 0n, opt: 'all', json: false };
  for (let i = 0; i < argv.length; i++) {
    const o = argv[i], v = () => { if (i + 1 >= argv.length) die(`${o} needs a value`, 2); return argv[++i]; };
    if (o === '--batch-sizes') a.batches = v().split(',').map(Number);
    else if (o === '--warmup') a.warmup = Number(v());
    else if (o === '--runs') a.runs = Number(v());
    else if (o === '--min-seconds') a.minSeconds = Number(v());
    else if (o === '--dim') { const s = v(), eq = s.indexOf('='); if (eq <= 0) die('--dim expects SYMBOL=VALUE', 2); a.dims[s.slice(0, eq)] = Number(s.slice(eq + 1)); }
    else if (o === '--threads') a.threads = Number(v());
    else if (o === '--seed') a.seed = BigInt(v());
    else if (o === '--opt-level') a.opt = v();
    else if (o === '--json') a.json = true;
    else if (o === '-h' || o === '--help') { console.log(USAGE); process.exit(0); }
    else if (o.startsWith('-')) die(`unknown option ${o}\n${USAGE}`, 2);
    else if (!a.model) a.model = o;
    else die(`unexpected argument ${o}`, 2);
  }
  if (!a.model) die(USAGE, 2);
  if (a.batches.some((b) => !Number.isInteger(b) || b < 1)) die('bad --batch-sizes', 2);
  if (!Number.isInteger(a.warmup) || a.warmup < 0 || !Number.isInteger(a.runs) || a.runs < 1) die('bad --warmup/--runs', 2);
  for (const [k, d] of Object.entries(a.dims)) if (!Number.isInteger(d) || d < 0) die(`bad --dim ${k}`, 2);
  return a;
}

// ---- nncompress's random inputs (splitmix64, fnv1a 64-bit), in BigInt ----
const M64 = (1n << 64n) - 1n;
function fnv1a64(s) {
  let h = 1469598103934665603n;
  for (const c of Buffer.from(s, 'utf8')) h = ((h ^ BigInt(c)) * 1099511628211n) & M64;
  return h;
}
function splitmix64(stateRef) {
  stateRef.s = (stateRef.s + 0x9E3779B97F4A7C15n) & M64;
  let z = stateRef.s;
  z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & M64;
  return z ^ (z >> 31n);
}
function randomData(dtype, n, seed) {
  const st = { s: seed };
  const T = DTYPES[dtype][1], out = new T(n);
  // float32(u >> 40) / 16777216.0f * 2.0f - 1.0f: each step exact or rounded in float32
  const uniform = () => Math.fround(Math.fround(Math.fround(Number(splitmix64(st) >> 40n) / 16777216) * 2) - 1);
  for (let i = 0; i < n; i++) {
    if (dtype === 'float32' || dtype === 'float64') out[i] = uniform();
    else if (dtype === 'float16') out[i] = floatToHalf(uniform());
    else if (dtype === 'bool') out[i] = Number(splitmix64(st) & 1n);
    else if (dtype === 'int64' || dtype === 'uint64') out[i] = splitmix64(st) % 8n;
    else out[i] = Number(splitmix64(st) % 8n);
  }
  return out;
}

function percentile(values, p) {
  const v = [...values].sort((x, y) => x - y);
  const rank = (p / 100) * (v.length - 1);
  const lo = Math.floor(rank), hi = Math.min(lo + 1, v.length - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - lo);
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  let ort;
  try { ort = require('onnxruntime-node'); } catch (e) { die(`cannot load onnxruntime-node (run tools/ort/install.sh): ${e.message}`); }
  if (!fs.existsSync(a.model)) die(`model not found: ${a.model}`);
  const opts = { graphOptimizationLevel: a.opt, executionMode: 'sequential', interOpNumThreads: 1 };
  if (a.threads !== null && a.threads > 0) opts.intraOpNumThreads = a.threads;
  const t0 = process.hrtime.bigint();
  let session;
  try { session = await ort.InferenceSession.create(path.resolve(a.model), opts); } catch (e) { die(`cannot load ${a.model}: ${e.message}`); }
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;

  const results = [];
  if (!a.json) console.log(`${'batch'.padEnd(8)} ${'p50 ms'.padStart(10)} ${'p90 ms'.padStart(10)} ${'p99 ms'.padStart(10)} ${'samples/s'.padStart(14)}`);
  for (const requested of a.batches) {
    const feeds = {};
    let batch = requested;
    session.inputMetadata.forEach((meta, k) => {
      if (!meta.isTensor || !DTYPES[meta.type]) die(`input '${meta.name}' has unsupported type ${meta.type}`);
      const shape = meta.shape.map((d, i) => (typeof d === 'number' && d >= 0 ? d : (typeof d === 'string' && d !== '' && a.dims[d] !== undefined ? a.dims[d] : i === 0 ? requested : 1)));
      if (k === 0 && shape.length) batch = shape[0];
      const n = shape.reduce((p, d) => p * d, 1);
      feeds[meta.name] = new ort.Tensor(meta.type, randomData(meta.type, n, a.seed ^ fnv1a64(meta.name)), shape);
    });
    if (batch !== requested) process.stderr.write(`ort_bench: warning: the model's batch dimension is fixed at ${batch}: measuring batch ${batch} instead of ${requested}\n`);
    for (let i = 0; i < a.warmup; i++) {
      try { await session.run(feeds); } catch (e) { die(`run failed: ${e.message}`); }
    }
    const ms = [];
    let measured = 0;
    while (ms.length < a.runs || measured < a.minSeconds) {
      const s = process.hrtime.bigint();
      await session.run(feeds);
      const sec = Number(process.hrtime.bigint() - s) / 1e9;
      ms.push(sec * 1000);
      measured += sec;
    }
    const p50 = percentile(ms, 50), p90 = percentile(ms, 90), p99 = percentile(ms, 99);
    const r = { batch, runs: ms.length, p50_ms: p50, p90_ms: p90, p99_ms: p99, samples_per_s: (batch * 1000) / p50 };
    results.push(r);
    if (!a.json) console.log(`${String(batch).padEnd(8)} ${p50.toFixed(3).padStart(10)} ${p90.toFixed(3).padStart(10)} ${p99.toFixed(3).padStart(10)} ${r.samples_per_s.toFixed(1).padStart(14)}`);
  }
  const rss = process.resourceUsage().maxRSS * 1024;
  if (a.json) console.log(JSON.stringify({ model: a.model, threads: a.threads ?? 0, results, peak_rss_bytes: rss, load_ms: loadMs, ort: ort.env.versions.node || null }));
  else console.log(`peak RSS ${(rss / 1048576).toFixed(1)} MiB`);
}

main().catch((e) => die(e.stack || String(e)));
