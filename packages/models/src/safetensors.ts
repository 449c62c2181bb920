/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets:
 * [begin, end]}, "__metadata__": {string: string}}, then the raw little-endian tensor bytes
 * (offsets relative to the end of the header). Pure host code: no GPU here.
 */
import { CrnnError } from '@crnn/core';

export type SafeDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'U8' | 'BOOL';

const BYTES: Record<SafeDType, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, U8: 1, BOOL: 1 };

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  /** Values as float64 (I64 values beyond 2^53 lose precision; only counters use I64). */
  data: Float64Array | Float32Array;
}

export class SafetensorsError extends CrnnError {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: not a valid safetensors file: ${detail}`);
  }
}

/** Encodes tensors (F32, or I64 for counters) with optional string metadata. */
export function encodeSafetensors(tensors: Array<[string, SafeTensor]>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new CrnnError(`safetensors: '${name}' has ${t.data.length} values for shape [${t.shape}]`);
    const size = n * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (as the reference writer does).
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const hbytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hbytes.length + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let p = 8 + hbytes.length;
  for (const [, t] of tensors) {
    for (let i = 0; i < t.data.length; i++) {
      const v = t.data[i]!;
      switch (t.dtype) {
        case 'F32': dv.setFloat32(p, v, true); break;
        case 'F64': dv.setFloat64(p, v, true); break;
        case 'I64': dv.setBigInt64(p, BigInt(Math.trunc(v)), true); break;
        case 'I32': dv.setInt32(p, v, true); break;
        default: throw new CrnnError(`safetensors: writing ${t.dtype} is not supported`);
      }
      p += BYTES[t.dtype];
    }
  }
  return out;
}

function bf16(bits: number): number {
  const f = new Float32Array(new Uint32Array([bits << 16]).buffer);
  return f[0]!;
}

function f16(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Decodes a safetensors file's bytes; `file` names it in errors. Checks every offset. */
export function decodeSafetensors(bytes: Uint8Array, file = '<bytes>'): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new SafetensorsError(file, `${bytes.length} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = Number(dv.getBigUint64(0, true));
  if (hlen > bytes.length - 8) throw new SafetensorsError(file, `header length ${hlen} exceeds the file (${bytes.length} bytes): truncated?`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + hlen))) as Record<string, unknown>;
  } catch (e) {
    throw new SafetensorsError(file, `header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new SafetensorsError(file, 'header is not a JSON object');
  const dataStart = 8 + hlen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafeTensor>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      for (const [k, v] of Object.entries((raw ?? {}) as Record<string, unknown>)) metadata[k] = String(v);
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = e?.dtype as SafeDType;
    if (!(typeof dtype === 'string' && dtype in BYTES)) throw new SafetensorsError(file, `tensor '${name}' has unsupported dtype ${JSON.stringify(e?.dtype)}`);
    const shape = e.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) throw new SafetensorsError(file, `tensor '${name}' has a bad shape ${JSON.stringify(shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((v) => Number.isInteger(v) && v >= 0) || off[0] > off[1]) {
      throw new SafetensorsError(file, `tensor '${name}' has bad data_offsets ${JSON.stringify(off)}`);
    }
    const [b, en] = off as [number, number];
    const n = (shape as number[]).reduce((a, c) => a * c, 1);
    if (en - b !== n * BYTES[dtype]) throw new SafetensorsError(file, `tensor '${name}' spans ${en - b} bytes, but ${dtype} [${shape}] needs ${n * BYTES[dtype]}`);
    if (en > dataLen) throw new SafetensorsError(file, `tensor '${name}' ends at byte ${en} of a ${dataLen}-byte data section: truncated?`);
    const p0 = dataStart + b;
    const data = dtype === 'F32' ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const p = p0 + i * BYTES[dtype];
      switch (dtype) {
        case 'F32': data[i] = dv.getFloat32(p, true); break;
        case 'F64': data[i] = dv.getFloat64(p, true); break;
        case 'F16': data[i] = f16(dv.getUint16(p, true)); break;
        case 'BF16': data[i] = bf16(dv.getUint16(p, true)); break;
        case 'I64': data[i] = Number(dv.getBigInt64(p, true)); break;
        case 'I32': data[i] = dv.getInt32(p, true); break;
        default: data[i] = dv.getUint8(p);
      }
    }
    tensors.set(name, { dtype, shape: shape as number[], data });
  }
  return { tensors, metadata };
}
