/**
 * The coordinator <-> worker wire protocol: every message is one binary websocket frame.
 *
 *   offset  size  field
 *   0       4     magic 'CRNN' (bytes 0x43 0x52 0x4e 0x4e)
 *   4       2     protocol version (u16 LE)
 *   6       2     message type (u16 LE)
 *   8       4     training step (u32 LE; 0 where no step applies)
 *   12      4     metadata length in bytes (u32 LE, at most MAX_META_BYTES)
 *   16      4     tensor count (u32 LE, at most MAX_TENSORS)
 *   20      8*n   per tensor: dtype code (u32 LE), byte length (u32 LE)
 *   ...           metadata: UTF-8 JSON object (small control fields only: ids, indices,
 *                 shapes, integers; never tensor values), zero-padded to a multiple of 8
 *   ...           tensor bytes, each zero-padded to a multiple of 8, in table order
 *
 * The frame length must equal exactly what the header announces. Tensor values are raw
 * little-endian f32 / i32 / f64 bytes: no JSON numbers for tensors, no base64.
 *
 * Between a coordinator and its own local workers the tensor bytes may travel in a side
 * file instead (side-files.ts): the frame then ends after the metadata, whose key `_side`
 * names the file, and the file holds exactly the tensor bytes, laid out as above.
 *
 * decodeFrame() checks the framing (magic, version, type, lengths, dtype codes, JSON);
 * the per-type checks (metadata schema, tensor counts and byte lengths against the model,
 * the expected step) are the validators below, used by the coordinator and the worker.
 * Every violation throws ProtocolError, whose message becomes the websocket close reason.
 */
import { CrnnError } from '@crnn/core';
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;
export const MAGIC = 0x4e4e5243; // 'CRNN' read as u32 LE
export const HEADER_BYTES = 20;
export const MAX_META_BYTES = 1 << 20;
export const MAX_TENSORS = 4096;
/** The metadata key that names a frame's side file (see side-files.ts). */
export const SIDE_KEY = '_side';
/** Most bytes a message may have before the sender is authenticated (a HELLO). */
export const HELLO_MAX_BYTES = 64 * 1024;

export const MsgType = {
  HELLO: 1,
  WELCOME: 2,
  STATE: 3,
  WORK: 4,
  RESULT: 5,
  BYE: 6,
} as const;
export type MsgTypeName = keyof typeof MsgType;
export type MsgTypeCode = (typeof MsgType)[MsgTypeName];
const TYPE_NAMES = new Map<number, MsgTypeName>(Object.entries(MsgType).map(([k, v]) => [v, k as MsgTypeName]));
export const typeName = (t: number): string => TYPE_NAMES.get(t) ?? `unknown(${t})`;

export const DType = { f32: 1, i32: 2, f64: 3, u8: 4 } as const;
export type WireDType = keyof typeof DType;
const DTYPE_NAMES = new Map<number, WireDType>(Object.entries(DType).map(([k, v]) => [v, k as WireDType]));
const DTYPE_SIZE: Record<WireDType, number> = { f32: 4, i32: 4, f64: 8, u8: 1 };

export type WireTensor = Float32Array | Int32Array | Float64Array | Uint8Array;

export interface Frame {
  version: number;
  type: MsgTypeCode;
  step: number;
  meta: Record<string, unknown>;
  tensors: WireTensor[];
  /** Total bytes of the frame. */
  bytes: number;
}

/** A message that breaks the protocol; `message` is the close reason. */
export class ProtocolError extends CrnnError {}

const pad8 = (n: number) => (n + 7) & ~7;

function dtypeOf(t: WireTensor): WireDType {
  if (t instanceof Float32Array) return 'f32';
  if (t instanceof Int32Array) return 'i32';
  if (t instanceof Float64Array) return 'f64';
  return 'u8';
}

/**
 * The same message as encodeFrame, as a list of chunks that concatenate to it: the header,
 * table and metadata in one small buffer, then the tensors' own bytes (views, no copy) with
 * zero padding between them. For sending as websocket fragments of one message.
 */
export function encodeFrameChunks(type: MsgTypeCode, step: number, meta: Record<string, unknown>, tensors: readonly WireTensor[] = [], version = PROTOCOL_VERSION): { chunks: Uint8Array[]; bytes: number } {
  const head = encodeHead(type, step, meta, tensors, version);
  const body = tensorChunks(tensors);
  return { chunks: [head, ...body.chunks], bytes: head.byteLength + body.bytes };
}

/**
 * The same message with its tensor bytes in the side file `file`: `head` goes over the
 * socket, `body` (views, no copy) is the file's content.
 */
export function encodeSideFrame(type: MsgTypeCode, step: number, meta: Record<string, unknown>, tensors: readonly WireTensor[], file: string, version = PROTOCOL_VERSION): { head: Buffer; body: Uint8Array[]; bodyBytes: number } {
  const body = tensorChunks(tensors);
  return { head: encodeHead(type, step, { ...meta, [SIDE_KEY]: file }, tensors, version), body: body.chunks, bodyBytes: body.bytes };
}

/** The tensors' bytes as views, each followed by its zero padding to 8 bytes. */
function tensorChunks(tensors: readonly WireTensor[]): { chunks: Uint8Array[]; bytes: number } {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for (const t of tensors) {
    if (t.byteLength) chunks.push(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
    const pad = pad8(t.byteLength) - t.byteLength;
    if (pad) chunks.push(new Uint8Array(pad));
    bytes += pad8(t.byteLength);
  }
  return { chunks, bytes };
}

/** Sends chunks as the fragments of one binary websocket message. */
export function sendChunks(ws: { send(data: Uint8Array, o: { binary: boolean; fin: boolean }): void }, chunks: readonly Uint8Array[]): void {
  chunks.forEach((c, i) => ws.send(c, { binary: true, fin: i === chunks.length - 1 }));
}

/** Header, tensor table and metadata (padded): the frame up to the tensor bytes. */
function encodeHead(type: MsgTypeCode, step: number, meta: Record<string, unknown>, tensors: readonly WireTensor[], version: number): Buffer {
  const metaBytes = Buffer.from(JSON.stringify(meta), 'utf8');
  if (metaBytes.length > MAX_META_BYTES) throw new ProtocolError(`metadata of ${metaBytes.length} bytes exceeds ${MAX_META_BYTES}`);
  if (tensors.length > MAX_TENSORS) throw new ProtocolError(`${tensors.length} tensors exceed ${MAX_TENSORS}`);
  const tableEnd = HEADER_BYTES + 8 * tensors.length;
  const out = Buffer.alloc(pad8(tableEnd) + pad8(metaBytes.length));
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt16LE(version, 4);
  out.writeUInt16LE(type, 6);
  out.writeUInt32LE(step >>> 0, 8);
  out.writeUInt32LE(metaBytes.length, 12);
  out.writeUInt32LE(tensors.length, 16);
  tensors.forEach((t, i) => {
    out.writeUInt32LE(DType[dtypeOf(t)], HEADER_BYTES + 8 * i);
    out.writeUInt32LE(t.byteLength, HEADER_BYTES + 8 * i + 4);
  });
  metaBytes.copy(out, pad8(tableEnd));
  return out;
}

/** Encodes one message into a single buffer (the tensors are copied once). */
export function encodeFrame(type: MsgTypeCode, step: number, meta: Record<string, unknown>, tensors: readonly WireTensor[] = [], version = PROTOCOL_VERSION): Buffer {
  const head = encodeHead(type, step, meta, tensors, version);
  let total = head.byteLength;
  for (const t of tensors) total += pad8(t.byteLength);
  const out = Buffer.alloc(total);
  head.copy(out, 0);
  let at = head.byteLength;
  for (const t of tensors) {
    out.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength), at);
    at += pad8(t.byteLength);
  }
  return out;
}

/** Copies (or views, when aligned) `len` bytes at `off` as a typed array of `dtype`. */
function tensorAt(buf: Uint8Array, off: number, len: number, dtype: WireDType): WireTensor {
  const abs = buf.byteOffset + off;
  const size = DTYPE_SIZE[dtype];
  const aligned = abs % size === 0;
  let src: Uint8Array = buf;
  let base = abs;
  if (!aligned) {
    // A fresh copy (Buffer#slice would be a view at the same misaligned offset).
    src = new Uint8Array(len);
    src.set(buf.subarray(off, off + len));
    base = 0;
  }
  const n = len / size;
  switch (dtype) {
    case 'f32':
      return new Float32Array(src.buffer, base, n);
    case 'i32':
      return new Int32Array(src.buffer, base, n);
    case 'f64':
      return new Float64Array(src.buffer, base, n);
    default:
      return new Uint8Array(src.buffer, base, n);
  }
}

/**
 * Decodes and checks the framing of one message. Throws ProtocolError naming the problem:
 * wrong magic, wrong protocol version, unknown type, lengths that do not add up, unknown
 * dtype codes, byte lengths that are not a multiple of the element size, bad JSON.
 *
 * `side` reads a side file (name, exact byte count); without it a frame that names one is
 * refused, so only connections that agreed on side files accept them.
 */
export function decodeFrame(data: Uint8Array, o: { version?: number; side?: (file: string, bytes: number) => Uint8Array } = {}): Frame {
  const want = o.version ?? PROTOCOL_VERSION;
  if (data.byteLength < HEADER_BYTES) throw new ProtocolError(`truncated frame: ${data.byteLength} bytes, the header alone is ${HEADER_BYTES}`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) throw new ProtocolError('not a CRNN protocol frame (bad magic)');
  const version = dv.getUint16(4, true);
  if (version !== want) throw new ProtocolError(`protocol version ${version}, expected ${want}`);
  const type = dv.getUint16(6, true);
  if (!TYPE_NAMES.has(type)) throw new ProtocolError(`unknown message type ${type}`);
  const step = dv.getUint32(8, true);
  const metaLen = dv.getUint32(12, true);
  const count = dv.getUint32(16, true);
  if (metaLen > MAX_META_BYTES) throw new ProtocolError(`metadata of ${metaLen} bytes exceeds ${MAX_META_BYTES}`);
  if (count > MAX_TENSORS) throw new ProtocolError(`${count} tensors exceed ${MAX_TENSORS}`);
  const tableEnd = HEADER_BYTES + 8 * count;
  if (data.byteLength < tableEnd) throw new ProtocolError(`truncated frame: ${data.byteLength} bytes, the tensor table ends at ${tableEnd}`);
  const table: Array<{ dtype: WireDType; len: number }> = [];
  const headBytes = pad8(tableEnd) + pad8(metaLen);
  let expected = headBytes;
  for (let i = 0; i < count; i++) {
    const code = dv.getUint32(HEADER_BYTES + 8 * i, true);
    const len = dv.getUint32(HEADER_BYTES + 8 * i + 4, true);
    const dtype = DTYPE_NAMES.get(code);
    if (!dtype) throw new ProtocolError(`tensor ${i}: unknown dtype code ${code}`);
    if (len % DTYPE_SIZE[dtype] !== 0) throw new ProtocolError(`tensor ${i}: ${len} bytes is not a whole number of ${dtype} values`);
    table.push({ dtype, len });
    expected += pad8(len);
  }
  const lengthError = () => new ProtocolError(`${data.byteLength < expected ? 'truncated' : 'oversized'} frame: ${data.byteLength} bytes, the header announces ${expected}`);
  // A frame that ends after its metadata may be a side-file frame; the metadata says.
  if (data.byteLength !== expected && data.byteLength !== headBytes) throw lengthError();
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(Buffer.from(data.buffer, data.byteOffset + pad8(tableEnd), metaLen).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new ProtocolError('metadata is not valid JSON');
  }
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw new ProtocolError('metadata is not a JSON object');
  const file = meta[SIDE_KEY];
  let body: Uint8Array = data;
  let at = headBytes;
  let bytes = data.byteLength;
  if (file === undefined) {
    if (data.byteLength !== expected) throw lengthError();
  } else {
    if (typeof file !== 'string') throw new ProtocolError(`metadata field '${SIDE_KEY}' is not a file name`);
    if (data.byteLength !== headBytes) throw new ProtocolError(`a side-file frame carries tensor bytes inline (${data.byteLength} bytes, expected ${headBytes})`);
    if (!o.side) throw new ProtocolError('a side-file frame on a connection that did not agree to side files');
    delete meta[SIDE_KEY];
    body = o.side(file, expected - headBytes);
    at = 0;
    bytes = expected;
  }
  const tensors: WireTensor[] = [];
  for (const { dtype, len } of table) {
    tensors.push(tensorAt(body, at, len, dtype));
    at += pad8(len);
  }
  return { version, type: type as MsgTypeCode, step, meta, tensors, bytes };
}

// ---- per-type validation -------------------------------------------------------------------

const int = z.number().int().nonnegative();
const name = z.string().min(1).max(200);
const shape = z.array(z.number().int().nonnegative().max(1 << 28)).max(8);

/** `shm`: the side-file directory a local worker was given (side-files.ts). */
export const HelloMeta = z.object({ token: z.string().max(1024), name: z.string().max(200), pid: int.optional(), host: z.string().max(200).optional(), shm: z.string().max(4096).optional() }).strict();
export type HelloMeta = z.infer<typeof HelloMeta>;

export const ModelSpec = z
  .object({
    name,
    hyper: z.object({ numClasses: z.number().int().min(2).max(1 << 20), inChannels: z.number().int().positive().max(64), height: z.number().int().positive().max(4096), width: z.number().int().positive().max(1 << 16) }).strict(),
    seed: int,
    params: z.array(z.object({ name, shape }).strict()).max(MAX_TENSORS / 2),
    buffers: z.array(z.object({ name, shape }).strict()).max(MAX_TENSORS / 2),
  })
  .strict();
export type ModelSpec = z.infer<typeof ModelSpec>;

export const WelcomeMeta = z
  .object({ workerId: int, model: ModelSpec, heartbeatMs: z.number().int().positive(), timeoutMs: z.number().int().positive(), maxPayload: z.number().int().positive(), side: z.boolean().optional() })
  .strict();
export type WelcomeMeta = z.infer<typeof WelcomeMeta>;

export const StateMeta = z.object({}).strict();

export const WorkItem = z.object({ k: int.max(65535), n: z.number().int().positive().max(1 << 16), seed: int.max(0xffffffff), labelLengths: z.array(int.max(4096)) }).strict();
export type WorkItem = z.infer<typeof WorkItem>;
/** A node of the reduction tree (see Part in train/micro.ts) and the micro-batches it covers. */
export const WorkUnit = z.object({ level: int.max(16), index: int.max(65535), ks: z.array(int.max(65535)).min(1).max(4096) }).strict();
export type WorkUnit = z.infer<typeof WorkUnit>;
export const WorkMeta = z.object({ items: z.array(WorkItem).min(1).max(4096), units: z.array(WorkUnit).min(1).max(4096) }).strict();

export const ResultMeta = z.object({ level: int.max(16), index: int.max(65535), ks: z.array(int.max(65535)).min(1).max(4096), computeMs: z.number().nonnegative().max(1e9), hasGrad: z.array(z.boolean()) }).strict();
export type ResultMeta = z.infer<typeof ResultMeta>;

export const ByeMeta = z.object({ reason: z.string().max(500) }).strict();

export function parseMeta<T>(schema: z.ZodType<T>, f: Frame): T {
  const r = schema.safeParse(f.meta);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new ProtocolError(`${typeName(f.type)}: bad metadata field '${i.path.join('.') || '(root)'}': ${i.message}`);
  }
  return r.data;
}

export function expectType(f: Frame, ...types: MsgTypeCode[]): void {
  if (!types.includes(f.type)) throw new ProtocolError(`unexpected ${typeName(f.type)} message (expected ${types.map(typeName).join(' or ')})`);
}

export function expectStep(f: Frame, step: number): void {
  if (f.step !== step) throw new ProtocolError(`${typeName(f.type)} for step ${f.step}, expected step ${step}`);
}

const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Checks the tensor count, dtypes and byte lengths of a frame against a list of (dtype, allowed byte lengths). */
export function expectTensors(f: Frame, want: ReadonlyArray<{ dtype: WireDType; bytes: number | readonly number[]; what: string }>): void {
  if (f.tensors.length !== want.length) throw new ProtocolError(`${typeName(f.type)}: ${f.tensors.length} tensors, expected ${want.length}`);
  f.tensors.forEach((t, i) => {
    const w = want[i]!;
    const d = dtypeOf(t);
    if (d !== w.dtype) throw new ProtocolError(`${typeName(f.type)}: tensor ${i} (${w.what}) is ${d}, expected ${w.dtype}`);
    const ok = typeof w.bytes === 'number' ? t.byteLength === w.bytes : w.bytes.includes(t.byteLength);
    if (!ok) throw new ProtocolError(`${typeName(f.type)}: tensor ${i} (${w.what}) has ${t.byteLength} bytes, expected ${typeof w.bytes === 'number' ? w.bytes : w.bytes.join(' or ')}`);
  });
}

/** Byte sizes of the model's parameters and buffers. */
export function specSizes(spec: ModelSpec): { params: number[]; buffers: number[] } {
  return { params: spec.params.map((p) => sizeOf(p.shape) * 4), buffers: spec.buffers.map((b) => sizeOf(b.shape) * 4) };
}

/** STATE: every parameter then every buffer, f32, exact sizes. */
export function checkState(f: Frame, spec: ModelSpec): void {
  expectType(f, MsgType.STATE);
  parseMeta(StateMeta, f);
  const s = specSizes(spec);
  expectTensors(f, [...s.params.map((b, i) => ({ dtype: 'f32' as const, bytes: b, what: spec.params[i]!.name })), ...s.buffers.map((b, i) => ({ dtype: 'f32' as const, bytes: b, what: spec.buffers[i]!.name }))]);
}

/** Checks that a unit's micro-batches are ascending and inside its tree node. */
export function checkUnit(u: WorkUnit, where: string): void {
  const lo = u.index * 2 ** u.level;
  const hi = (u.index + 1) * 2 ** u.level;
  u.ks.forEach((k, i) => {
    if (k < lo || k >= hi) throw new ProtocolError(`${where}: micro-batch ${k} outside tree node ${u.level}/${u.index} [${lo}, ${hi})`);
    if (i > 0 && k <= u.ks[i - 1]!) throw new ProtocolError(`${where}: micro-batches of node ${u.level}/${u.index} not ascending`);
  });
}

/**
 * WORK: per item its images (f32 [n,C,H,W]) and its labels (i32, ids in [1, numClasses));
 * units: the tree nodes to return, which together cover every item exactly once.
 */
export function checkWork(f: Frame, spec: ModelSpec): { items: WorkItem[]; units: WorkUnit[] } {
  expectType(f, MsgType.WORK);
  const { items, units } = parseMeta(WorkMeta, f);
  const covered = new Set<number>();
  for (const u of units) {
    checkUnit(u, 'WORK');
    for (const k of u.ks) {
      if (covered.has(k)) throw new ProtocolError(`WORK: micro-batch ${k} in two units`);
      covered.add(k);
    }
  }
  if (covered.size !== items.length || !items.every((it) => covered.has(it.k))) throw new ProtocolError('WORK: the units do not cover the items exactly');
  const { inChannels, height, width, numClasses } = spec.hyper;
  const seen = new Set<number>();
  const want: Array<{ dtype: WireDType; bytes: number; what: string }> = [];
  for (const it of items) {
    if (seen.has(it.k)) throw new ProtocolError(`WORK: micro-batch ${it.k} twice`);
    seen.add(it.k);
    if (it.labelLengths.length !== it.n) throw new ProtocolError(`WORK: micro-batch ${it.k}: ${it.labelLengths.length} label lengths for ${it.n} images`);
    want.push({ dtype: 'f32', bytes: it.n * inChannels * height * width * 4, what: `images of micro-batch ${it.k}` });
    want.push({ dtype: 'i32', bytes: it.labelLengths.reduce((a, b) => a + b, 0) * 4, what: `labels of micro-batch ${it.k}` });
  }
  expectTensors(f, want);
  for (let i = 0; i < items.length; i++) {
    const labels = f.tensors[2 * i + 1] as Int32Array;
    for (const v of labels) if (v < 1 || v >= numClasses) throw new ProtocolError(`WORK: micro-batch ${items[i]!.k}: label id ${v} outside [1, ${numClasses})`);
  }
  return { items, units };
}

/**
 * RESULT (one tree node's partial sum): per parameter its gradient (0 bytes when none), every
 * buffer, then f64 losses, one per micro-batch of the node.
 */
export function checkResult(f: Frame, spec: ModelSpec): ResultMeta {
  expectType(f, MsgType.RESULT);
  const meta = parseMeta(ResultMeta, f);
  checkUnit(meta, 'RESULT');
  if (meta.hasGrad.length !== spec.params.length) throw new ProtocolError(`RESULT: hasGrad has ${meta.hasGrad.length} entries, expected ${spec.params.length}`);
  const s = specSizes(spec);
  expectTensors(f, [
    ...s.params.map((b, i) => ({ dtype: 'f32' as const, bytes: meta.hasGrad[i] ? b : 0, what: `gradient of ${spec.params[i]!.name}` })),
    ...s.buffers.map((b, i) => ({ dtype: 'f32' as const, bytes: b, what: spec.buffers[i]!.name })),
    { dtype: 'f64', bytes: 8 * meta.ks.length, what: 'losses' },
  ]);
  return meta;
}

/** The largest frame the protocol can carry for this model and global batch (plus slack). */
export function maxFrameBytes(spec: ModelSpec, maxBatch: number, maxLabel = 256): number {
  const s = specSizes(spec);
  const state = s.params.reduce((a, b) => a + b, 0) + s.buffers.reduce((a, b) => a + b, 0);
  const images = maxBatch * spec.hyper.inChannels * spec.hyper.height * spec.hyper.width * 4 + maxBatch * maxLabel * 4;
  return state + images + 8 * (spec.params.length + spec.buffers.length + 8) * 2 + MAX_META_BYTES;
}
