#!/usr/bin/env node
'use strict';
// Compare the .npy files with the same names in two directories (top level only).
//   ok when, element-wise, |a-b| <= atol + rtol*|b| (numpy.allclose rule, NaN == NaN,
//   infinities must be equal); with --exact, ok only when the data bytes are identical;
//   with --exact-ints, integer and bool files must be identical and floats use the tolerance.
//   --json: one JSON line per file (and a last summary line) instead of the text table.
// Exit: 0 all ok, 1 some file differs / is missing / has another dtype or shape, 2 usage.
const fs = require('fs');
const path = require('path');
const { readNpy, halfToFloat } = require('./npy');

const USAGE = 'usage: node compare_npy.js DIR_A DIR_B [--rtol R] [--atol A] [--exact | --exact-ints] [--json]';
function die(msg, code = 2) { process.stderr.write(`compare_npy: error: ${msg}\n`); process.exit(code); }

const args = { dirs: [], rtol: 1e-5, atol: 1e-8, exact: false, exactInts: false, json: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const o = argv[i];
  if (o === '--rtol' || o === '--atol') {
    const v = Number(argv[++i]);
    if (!(v >= 0)) die(`${o} needs a non-negative number`);
    args[o.slice(2)] = v;
  } else if (o === '--exact') args.exact = true;
  else if (o === '--exact-ints') args.exactInts = true;
  else if (o === '--json') args.json = true;
  else if (o === '-h' || o === '--help') { console.log(USAGE); process.exit(0); }
  else if (o.startsWith('-')) die(`unknown option ${o}\n${USAGE}`);
  else args.dirs.push(o);
}
if (args.dirs.length !== 2) die(USAGE);
for (const d of args.dirs) if (!fs.statSync(d, { throwIfNoEntry: false })?.isDirectory()) die(`not a directory: ${d}`);

const list = (d) => fs.readdirSync(d).filter((f) => f.endsWith('.npy') && fs.statSync(path.join(d, f)).isFile());
const [la, lb] = args.dirs.map(list);
const names = [...new Set([...la, ...lb])].sort();
if (names.length === 0) die(`no .npy files in ${args.dirs.join(' or ')}`, 1);

const toNum = (dtype, data) => (dtype === 'float16' ? (i) => halfToFloat(data[i]) : (i) => Number(data[i]));

// Unsigned-integer view of the bytes, one element per entry: for bitwise compare.
const BITS = { 1: Uint8Array, 2: Uint16Array, 4: Uint32Array, 8: BigUint64Array };
const bitsView = (t) => new BITS[t.bytes.length / t.data.length || 1](t.data.buffer, t.data.byteOffset, t.data.length);

const isFloat = (dtype) => dtype.startsWith('float');

function compare(a, b) {
  // worst: max over elements of |a-b| / (atol + rtol*|b|) (<= 1: within tolerance; Infinity for
  // NaN vs number, unequal infinities, or a zero tolerance)
  const r = { maxAbs: 0, maxRel: 0, worst: 0, bad: 0, bitDiff: 0 };
  const exact = args.exact || (args.exactInts && !isFloat(a.dtype));
  const ga = toNum(a.dtype, a.data), gb = toNum(b.dtype, b.data);
  const big = a.dtype === 'int64' || a.dtype === 'uint64';
  const ba = bitsView(a), bb = bitsView(b);
  for (let i = 0; i < a.data.length; i++) {
    if (ba[i] === bb[i]) continue;
    r.bitDiff++;
    const x = ga(i), y = gb(i);
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue; // -0 vs 0, NaN payloads: equal unless --exact
    const finite = Number.isFinite(x) && Number.isFinite(y);
    const ad = !finite ? Infinity : big ? Math.abs(Number(a.data[i] - b.data[i])) : Math.abs(x - y);
    if (!finite || !(ad <= args.atol + args.rtol * Math.abs(y))) r.bad++;
    const tol = args.atol + args.rtol * Math.abs(y);
    const ratio = !finite ? Infinity : tol > 0 ? ad / tol : Infinity;
    if (ratio > r.worst) r.worst = ratio;
    const rel = y !== 0 ? ad / Math.abs(y) : 0; // rel: only where b != 0
    if (ad > r.maxAbs) r.maxAbs = ad;
    if (rel > r.maxRel) r.maxRel = rel;
  }
  r.exact = exact;
  r.ok = exact ? r.bitDiff === 0 : r.bad === 0;
  return r;
}

let failed = 0;
const fmt = (x) => (x === 0 ? '0' : x.toExponential(3));
const out = (text, obj) => console.log(args.json ? JSON.stringify(obj) : text);
const mode = args.exact ? 'exact (bitwise)' : `rtol=${args.rtol} atol=${args.atol}${args.exactInts ? ', integers exact' : ''}`;
if (!args.json) console.log(`mode: ${mode}`);
for (const n of names) {
  const label = n.padEnd(28);
  const fail = (why) => { failed++; out(`${label} FAIL  ${why}`, { file: n, ok: false, error: why }); };
  if (!la.includes(n) || !lb.includes(n)) { fail(`only in ${la.includes(n) ? args.dirs[0] : args.dirs[1]}`); continue; }
  let a, b;
  try { a = readNpy(path.join(args.dirs[0], n)); b = readNpy(path.join(args.dirs[1], n)); } catch (e) { fail(e.message); continue; }
  const sig = (t) => `${t.dtype}[${t.shape.join(',')}]`;
  if (sig(a) !== sig(b)) { fail(`${sig(a)} vs ${sig(b)}`); continue; }
  const r = compare(a, b);
  if (!r.ok) failed++;
  const worst = Number.isFinite(r.worst) ? r.worst : null;
  out(`${label} ${r.ok ? 'ok  ' : 'FAIL'}  ${sig(a).padEnd(24)} max_abs=${fmt(r.maxAbs)} max_rel=${fmt(r.maxRel)}` +
    ` ${r.exact ? 'bits_differ' : 'out_of_tol'}=${r.exact ? r.bitDiff : r.bad}/${a.data.length}`,
  { file: n, ok: r.ok, dtype: a.dtype, shape: a.shape, exact: r.exact, max_abs: Number.isFinite(r.maxAbs) ? r.maxAbs : null,
    max_rel: Number.isFinite(r.maxRel) ? r.maxRel : null, worst_err_over_tol: worst, out_of_tol: r.bad, bits_differ: r.bitDiff, elements: a.data.length });
}
out(`compare_npy: ${names.length - failed} of ${names.length} files match${failed ? `, ${failed} differ` : ''}`,
  { summary: true, mode, files: names.length, failed });
process.exit(failed ? 1 : 0);
