'use strict';
// Minimal .npy (format 1.0/2.0/3.0) reader/writer, little-endian, C order,
// plus a minimal ONNX TensorProto (.pb) reader and float16 helpers.
// Dtypes are named as in onnxruntime-node: float32 float16 float64 int8 uint8
// int16 uint16 int32 uint32 int64 uint64 bool.
const fs = require('fs');

// dtype -> [npy descr, TypedArray constructor, bytes per element]
const DTYPES = {
  float32: ['<f4', Float32Array, 4],
  float16: ['<f2', Uint16Array, 2], // raw IEEE half bits
  float64: ['<f8', Float64Array, 8],
  int8: ['|i1', Int8Array, 1],
  uint8: ['|u1', Uint8Array, 1],
  int16: ['<i2', Int16Array, 2],
  uint16: ['<u2', Uint16Array, 2],
  int32: ['<i4', Int32Array, 4],
  uint32: ['<u4', Uint32Array, 4],
  int64: ['<i8', BigInt64Array, 8],
  uint64: ['<u8', BigUint64Array, 8],
  bool: ['|b1', Uint8Array, 1],
};
const DESCR_TO_DTYPE = {};
for (const [k, [d]] of Object.entries(DTYPES)) {
  DESCR_TO_DTYPE[d] = k;
  DESCR_TO_DTYPE[d.replace(/^[<|]/, '=')] = k;
  if (d[0] === '|') DESCR_TO_DTYPE[d.replace('|', '<')] = k;
}
DESCR_TO_DTYPE['|b'] = DESCR_TO_DTYPE['?'] = 'bool';

const numel = (shape) => shape.reduce((a, b) => a * b, 1);

// Copy bytes into a fresh (aligned) typed array of the dtype.
function typedFromBytes(dtype, bytes, n) {
  const T = DTYPES[dtype][1];
  const out = new T(n);
  new Uint8Array(out.buffer).set(bytes.subarray(0, n * DTYPES[dtype][2]));
  return out;
}

// -> {dtype, shape, data (TypedArray), bytes (Uint8Array view of the data)}
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  let hlen, off;
  if (major === 1) { hlen = buf.readUInt16LE(8); off = 10; } else { hlen = buf.readUInt32LE(8); off = 12; }
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', off, off + hlen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shp = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shp) throw new Error(`${file}: cannot parse npy header: ${header.trim()}`);
  const dtype = DESCR_TO_DTYPE[descr[1]];
  if (!dtype) throw new Error(`${file}: unsupported npy dtype '${descr[1]}' (need little-endian ${Object.values(DTYPES).map((d) => d[0]).join(' ')})`);
  const shape = shp[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (fortran[1] === 'True' && shape.filter((d) => d > 1).length > 1) throw new Error(`${file}: fortran_order arrays are not supported`);
  const n = numel(shape);
  const body = buf.subarray(off + hlen);
  if (body.length < n * DTYPES[dtype][2]) throw new Error(`${file}: truncated data (${body.length} bytes for ${n} x ${dtype})`);
  const data = typedFromBytes(dtype, body, n);
  return { dtype, shape, data, bytes: new Uint8Array(data.buffer, 0, n * DTYPES[dtype][2]) };
}

function npyBytes(dtype, shape, data) {
  if (!DTYPES[dtype]) throw new Error(`cannot write dtype ${dtype} to npy`);
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${DTYPES[dtype][0]}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), body]);
}

function writeNpy(file, dtype, shape, data) {
  fs.writeFileSync(file, npyBytes(dtype, shape, data));
}

// ---- ONNX TensorProto (.pb) ----
const ONNX_TYPES = { 1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64' };

function readTensorPb(file) {
  const b = fs.readFileSync(file);
  let p = 0;
  const varint = () => {
    let r = 0n, s = 0n;
    for (;;) {
      if (p >= b.length) throw new Error(`${file}: truncated varint`);
      const x = b[p++];
      r |= BigInt(x & 0x7f) << s; s += 7n;
      if (!(x & 0x80)) return r;
    }
  };
  const t = { dims: [], dataType: 0, name: '', floats: [], i32: [], i64: [], doubles: [], u64: [], raw: null };
  // repeated numeric field: packed (wire 2) or not; fixed32/64 or varint.
  const rep = (wire, arr, kind) => {
    const one = () => {
      if (kind === 'f32') { const v = b.readFloatLE(p); p += 4; return v; }
      if (kind === 'f64') { const v = b.readDoubleLE(p); p += 8; return v; }
      return varint();
    };
    if (wire === 2) { const len = Number(varint()), end = p + len; while (p < end) arr.push(one()); } else arr.push(one());
  };
  while (p < b.length) {
    const key = Number(varint()), field = key >>> 3, wire = key & 7;
    switch (field) {
      case 1: rep(wire, t.dims, 'v'); break;
      case 2: t.dataType = Number(varint()); break;
      case 4: rep(wire, t.floats, 'f32'); break;
      case 5: rep(wire, t.i32, 'v'); break;
      case 7: rep(wire, t.i64, 'v'); break;
      case 8: { const n = Number(varint()); t.name = b.toString('utf8', p, p + n); p += n; break; }
      case 9: { const n = Number(varint()); t.raw = b.subarray(p, p + n); p += n; break; }
      case 10: rep(wire, t.doubles, 'f64'); break;
      case 11: rep(wire, t.u64, 'v'); break;
      case 14: if (Number(varint()) === 1) throw new Error(`${file}: external data tensors are not supported`); break;
      default: // skip unknown field
        if (wire === 0) varint();
        else if (wire === 1) p += 8;
        else if (wire === 5) p += 4;
        else if (wire === 2) { const len = Number(varint()); p += len; }
        else throw new Error(`${file}: bad protobuf wire type ${wire}`);
    }
  }
  const dtype = ONNX_TYPES[t.dataType];
  if (!dtype) throw new Error(`${file}: unsupported TensorProto data_type ${t.dataType}`);
  const shape = t.dims.map((d) => Number(BigInt.asIntN(64, d)));
  const n = numel(shape);
  const T = DTYPES[dtype][1];
  let data;
  if (t.raw) {
    if (t.raw.length !== n * DTYPES[dtype][2]) throw new Error(`${file}: raw_data has ${t.raw.length} bytes, expected ${n * DTYPES[dtype][2]}`);
    data = typedFromBytes(dtype, t.raw, n);
  } else {
    let src;
    if (dtype === 'float32') src = t.floats;
    else if (dtype === 'float64') src = t.doubles;
    else if (dtype === 'int64') src = t.i64.map((v) => BigInt.asIntN(64, v));
    else if (dtype === 'uint64') src = t.u64;
    else if (dtype === 'uint32') src = t.u64.map(Number);
    else src = t.i32.map((v) => Number(BigInt.asIntN(32, v))); // int8..int32, uint8, uint16, bool, float16 bits
    if (src.length !== n) throw new Error(`${file}: ${src.length} values for shape [${shape}]`);
    data = new T(n);
    for (let i = 0; i < n; i++) data[i] = src[i];
  }
  return { name: t.name, dtype, shape, data };
}

// ---- float16 ----
const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
function floatToHalf(v) { // round to nearest even
  f32[0] = v;
  const x = u32[0], sign = (x >>> 16) & 0x8000, e = (x >>> 23) & 0xff;
  let m = x & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  let he = e - 127 + 15;
  if (he >= 31) return sign | 0x7c00;
  if (he <= 0) {
    if (he < -10) return sign;
    m |= 0x800000;
    const shift = 14 - he, half = 1 << (shift - 1);
    let r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    if (rem > half || (rem === half && (r & 1))) r++;
    return sign | r;
  }
  let r = (he << 10) | (m >>> 13);
  const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1))) r++;
  return sign | r;
}

module.exports = { DTYPES, numel, readNpy, writeNpy, npyBytes, readTensorPb, halfToFloat, floatToHalf };
