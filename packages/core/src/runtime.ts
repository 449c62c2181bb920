import { BufferPool, STORAGE_USAGE, UNIFORM_STORAGE_USAGE, type Storage, type PoolCounters } from './buffer-pool.js';
import { getDevice, type DeviceInfo, type DeviceOptions } from './device.js';
import { DTYPE_BYTES, f16BitsToF32, f32ToF16Bits, hostArrayFor, type DType, type HostArray } from './dtype.js';
import { DeviceLostError, KernelCompileError, KernelValidationError, OpInputError, type CrnnError } from './errors.js';
import { IdleWait, idleWaitWanted } from './idle-wait.js';
import { checkShape, shapeSize, Tensor, type StorageOwner } from './tensor.js';
import { BufferUsage, MapMode } from './usage.js';

const FNV_OFFSET = 0x811c9dc5;
/** One FNV-1a step over a 32-bit value (not byte-wise: a key, not a checksum). */
function fnvMix(h: number, v: number): number {
  return Math.imul(h ^ v, 0x01000193) >>> 0;
}

/** A compute shader and its compile-time specialisation (WGSL `override` constants). */
export interface Kernel {
  /** Names the kernel in errors, labels and benchmarks: `conv2d_forward`. */
  name: string;
  /** WGSL source (from a `.wgsl` file). */
  code: string;
  entryPoint?: string;
  constants?: Record<string, number>;
}

/** A scalar of the `Params` uniform. Plain numbers are `u32`. */
export type Param = number | { f32: number } | { i32: number };
export const f32 = (v: number): Param => ({ f32: v });
export const i32 = (v: number): Param => ({ i32: v });

export interface DispatchArgs {
  kernel: Kernel;
  /**
   * Scalars of the kernel's `Params` struct, bound at @binding(0). Every member is 4 bytes
   * (u32, i32, f32), so the struct is a flat array in declaration order.
   */
  params?: readonly Param[];
  /** Storage buffers, bound at @binding(1), @binding(2), ... in this order. */
  bindings: readonly Tensor[];
  /** Workgroup counts; use `grid()` to fold a large 1-D count into 2-D. */
  workgroups: number | readonly [number, number?, number?];
}

export interface RuntimeStats extends PoolCounters {
  dispatches: number;
  submits: number;
  pipelines: number;
  readbacks: number;
  /** createBindGroup calls: dispatches that found no cached bind group for their bindings. */
  bindGroups: number;
  /** Submits that ran inside a validation error scope: those whose batch created a bind group. */
  scopedSubmits: number;
  /** Params uploads (writeBuffer of a uniform chunk); a submit whose params are unchanged skips its upload. */
  paramUploads: number;
}

interface CompiledKernel {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  /** Unique per compiled pipeline: the bind group cache's keys start with it. */
  id: number;
  /** FNV-1a of the kernel's name, mixed into the wait key by every dispatch of it. */
  nameHash: number;
}

/** One WGSL source: its module and the pipelines built from it. */
interface CompiledSource {
  module: GPUShaderModule;
  /** By name, entry point and constants. */
  kernels: Map<string, CompiledKernel>;
}

const PARAM_SLOT = 256; // minUniformBufferOffsetAlignment on every adapter we target
const CHUNK_BYTES = 64 * 1024;

/**
 * Bind groups kept for reuse, at most this many (oldest first out). A training step or a
 * BiLSTM pass binds a few hundred to a few thousand distinct (pipeline, buffer, offset)
 * combinations, and the same ones every step once the pool's order has settled (pooled
 * buffers come back permuted for the first few steps: the BiLSTM bench step made new groups
 * for 282, 270, 114, 112, 112, 112 of its 282 dispatches, then none).
 */
const BIND_GROUP_CACHE = 4096;

interface UniformChunk {
  id: number;
  buffer: GPUBuffer;
  host: ArrayBuffer;
  used: number;
  /**
   * The bytes the GPU buffer holds from its last upload (`shadowUsed` of them). A submit whose
   * params are the same bytes (the same work again: a training step, a bench's run, a decode
   * step) skips the writeBuffer.
   */
  shadow: Uint32Array;
  shadowUsed: number;
}

/**
 * The WebGPU runtime: one device, its buffer pool, a pipeline cache, and a command encoder
 * that collects dispatches until a value is read back (or `flush()` is called), so that a
 * whole training step is one submit.
 */
export class Runtime implements StorageOwner {
  readonly device: GPUDevice;
  readonly pool: BufferPool;
  /**
   * Compiled kernels by source, then by name, entry point and constants. The outer key is the
   * shader's own string (a module constant, whose hash V8 computes once), so a dispatch does not
   * rehash kilobytes of WGSL; the bind group layout is kept with the pipeline for the same
   * reason (`getBindGroupLayout` makes a new wrapper per call).
   */
  private readonly sources = new Map<string, CompiledSource>();
  private encoder: GPUCommandEncoder | null = null;
  /**
   * Whether the batch being recorded has a validation error scope open. One is opened when the
   * batch creates a bind group (see dispatch()); batches of known bind groups run without one.
   */
  private scoped = false;
  private pass: GPUComputePassEncoder | null = null;
  private pendingKernels: string[] = [];
  private checks: Array<Promise<CrnnError | null>> = [];
  private uncaptured: CrnnError | null = null;
  private chunks: UniformChunk[] = [];
  private chunkIndex = 0;
  private staging = new Map<number, GPUBuffer[]>();
  private lostInfo: { reason: string; message: string } | null = null;
  /** Increments with every submit; storages remember the epoch that last used them. */
  private epoch = 0;
  private counts = { dispatches: 0, submits: 0, readbacks: 0, bindGroups: 0, scopedSubmits: 0, paramUploads: 0 };
  /**
   * Bind groups by pipeline and bindings (buffer ids, offsets, sizes). createBindGroup costs
   * 20-40 us in Dawn (35 us measured on lavapipe, against ~30 us for the rest of recording a
   * dispatch), and a training step repeats the same bindings every step. Buffer ids are never
   * reused, so an entry can only go stale by its buffer being destroyed, which only
   * `pool.trim()` does: the cache is cleared when the pool's trim count moves.
   */
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private bindGroupsAtTrim = 0;
  private nextKernelId = 0;
  private nextChunkId = 0;
  /** Sleeps through GPU waits on a software adapter (see idle-wait.ts). */
  private readonly idle: IdleWait;
  /** performance.now() of the first submit since the last completed wait; null when none. */
  private pendingSince: number | null = null;
  /** counts.dispatches at the last completed wait: the wait key is the dispatches since. */
  private dispatchesAtWait = 0;
  /**
   * FNV-1a hash of the kernels and workgroup counts dispatched since the last wait, also in
   * the wait key: work with the same number of dispatches but other kernels or shapes (a
   * 2x2 conv after a 3x3 one) must not inherit its estimate and oversleep.
   */
  private workHash = FNV_OFFSET;

  private constructor(readonly info: DeviceInfo) {
    this.device = info.device;
    this.pool = new BufferPool(this.device);
    this.idle = new IdleWait(idleWaitWanted(info));
    void this.device.lost.then((l) => {
      this.lostInfo = { reason: l.reason ?? 'unknown', message: l.message ?? '' };
    });
    this.device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.uncaptured ??= new KernelValidationError(this.pendingKernels, ev.error.message);
    };
  }

  static async create(opts: DeviceOptions = {}): Promise<Runtime> {
    return new Runtime(await getDevice(opts));
  }

  get adapterName(): string {
    return this.info.adapterName;
  }

  get isLost(): boolean {
    return this.lostInfo !== null;
  }

  stats(): RuntimeStats {
    let pipelines = 0;
    for (const src of this.sources.values()) pipelines += src.kernels.size;
    return { ...this.pool.counters, ...this.counts, pipelines };
  }

  // ---- tensors ----------------------------------------------------------------------------

  releaseStorage(s: Storage): void {
    this.pool.release(s);
  }

  private placeholderTensor: Tensor | null = null;

  /**
   * A small zero tensor to bind where a kernel's optional input (a bias, an initial state)
   * is absent: with `layout: 'auto'` every binding a shader mentions must be bound, even
   * when an override constant turns its use off. Never disposed.
   */
  get placeholder(): Tensor {
    if (!this.placeholderTensor) {
      const s = this.pool.acquire(256);
      s.refs = Number.POSITIVE_INFINITY; // dispose() of views can never free it
      this.placeholderTensor = new Tensor(this, s, [64], 'f32');
      this.fillZero(this.placeholderTensor);
    }
    return this.placeholderTensor;
  }

  /** A tensor with unspecified contents. */
  empty(shape: readonly number[], dtype: DType = 'f32'): Tensor {
    checkShape('empty', shape);
    const s = this.pool.acquire(shapeSize(shape) * DTYPE_BYTES[dtype]);
    return new Tensor(this, s, [...shape], dtype);
  }

  /**
   * As `empty`, in a buffer that may also be bound as a uniform buffer: kernels for software
   * adapters read operands through 64 KiB uniform windows of it (a uniform read with a varying
   * index is a branch-free gather on lavapipe, a storage read runs lane by lane).
   */
  emptyUniform(shape: readonly number[], dtype: DType = 'f32', label?: string): Tensor {
    checkShape('emptyUniform', shape);
    const s = this.pool.acquire(shapeSize(shape) * DTYPE_BYTES[dtype], UNIFORM_STORAGE_USAGE, label);
    return new Tensor(this, s, [...shape], dtype);
  }

  /** A tensor of zeros, cleared on the GPU in the current command stream. */
  zeros(shape: readonly number[], dtype: DType = 'f32'): Tensor {
    const t = this.empty(shape, dtype);
    this.fillZero(t);
    return t;
  }

  /** Clears a tensor's bytes to zero, in order with recorded dispatches. */
  fillZero(t: Tensor): void {
    t.assertAlive('fillZero');
    const enc = this.endPass();
    enc.clearBuffer(t.buffer, t.byteOffset, Math.ceil(t.byteLength / 4) * 4);
    t.storage.lastUse = this.epoch;
  }

  /** Uploads host data into a new tensor. */
  upload(data: ArrayLike<number>, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    checkShape('upload', shape);
    const n = shapeSize(shape);
    if (data.length !== n) {
      throw new OpInputError('upload', `${n} values for shape [${shape.join(', ')}]`, `${data.length} values`);
    }
    const t = this.empty(shape, dtype);
    this.write(t, data);
    return t;
  }

  /** Overwrites a tensor's contents from host data. */
  write(t: Tensor, data: ArrayLike<number>): void {
    t.assertAlive('write');
    if (data.length !== t.size) throw new OpInputError('write', `${t.size} values`, `${data.length} values`);
    // queue.writeBuffer takes effect before any command not yet submitted: if the recorded
    // commands still use this buffer (a recycled one, or the tensor itself), submit them first.
    if (t.storage.lastUse === this.epoch) this.flush();
    let bytes: ArrayBufferView;
    if (t.dtype === 'f16') {
      const h = new Uint16Array(Math.ceil(t.size / 2) * 2);
      for (let i = 0; i < t.size; i++) h[i] = f32ToF16Bits(data[i]!);
      bytes = h;
    } else {
      const ctor = t.dtype === 'f32' ? Float32Array : t.dtype === 'i32' ? Int32Array : Uint32Array;
      // A fresh copy also protects Dawn from views of SharedArrayBuffers, which crash it.
      const fresh = data instanceof ctor && !(data.buffer instanceof SharedArrayBufferCtor()) ? data : ctor.from(data);
      bytes = fresh as ArrayBufferView;
    }
    if (t.size > 0) this.device.queue.writeBuffer(t.buffer, t.byteOffset, bytes.buffer, bytes.byteOffset, Math.ceil(bytes.byteLength / 4) * 4);
  }

  /** Copies `src` into `dst` (same byte length), in order with recorded dispatches. */
  copy(src: Tensor, dst: Tensor): void {
    src.assertAlive('copy');
    dst.assertAlive('copy');
    if (src.byteLength !== dst.byteLength) {
      throw new OpInputError('copy', `equal byte lengths`, `${src.byteLength} and ${dst.byteLength}`);
    }
    const enc = this.endPass();
    if (src.byteLength > 0) enc.copyBufferToBuffer(src.buffer, src.byteOffset, dst.buffer, dst.byteOffset, Math.ceil(src.byteLength / 4) * 4);
    src.storage.lastUse = dst.storage.lastUse = this.epoch;
  }

  /** Submits recorded work, then downloads the tensor. The only place host code waits. */
  async read(t: Tensor): Promise<HostArray> {
    const [out] = await this.readMany([t]);
    return out!;
  }

  async readMany(ts: readonly Tensor[]): Promise<HostArray[]> {
    this.assertUsable();
    for (const t of ts) t.assertAlive('read');
    const enc = this.endPass();
    const stage: Array<{ buf: GPUBuffer; size: number }> = [];
    for (const t of ts) {
      const size = Math.max(4, Math.ceil(t.byteLength / 4) * 4);
      const buf = this.takeStaging(size);
      if (t.byteLength > 0) enc.copyBufferToBuffer(t.buffer, t.byteOffset, buf, 0, size);
      stage.push({ buf, size });
    }
    this.flush();
    this.counts.readbacks++;
    try {
      await this.waitFor('read', () => Promise.all(stage.map((s) => s.buf.mapAsync(MapMode.READ, 0, s.size))));
    } catch (e) {
      this.assertUsable();
      throw e;
    }
    await this.checkErrors();
    return ts.map((t, i) => {
      const { buf, size } = stage[i]!;
      const raw = buf.getMappedRange(0, size);
      let out: HostArray;
      if (t.dtype === 'f16') {
        const h = new Uint16Array(raw, 0, t.size);
        const f = new Float32Array(t.size);
        for (let k = 0; k < t.size; k++) f[k] = f16BitsToF32(h[k]!);
        out = f;
      } else {
        out = hostArrayFor(t.dtype, t.size);
        out.set(new (out.constructor as typeof Float32Array)(raw, 0, t.size) as never);
      }
      buf.unmap();
      this.giveStaging(size, buf);
      return out;
    });
  }

  private takeStaging(size: number): GPUBuffer {
    const list = this.staging.get(size);
    return list?.pop() ?? this.device.createBuffer({ size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST, label: 'readback' });
  }

  private giveStaging(size: number, buf: GPUBuffer): void {
    let list = this.staging.get(size);
    if (!list) this.staging.set(size, (list = []));
    if (list.length < 4) list.push(buf);
    else buf.destroy();
  }

  // ---- kernels ----------------------------------------------------------------------------

  /**
   * The pipeline for a kernel, cached by name, source, entry point and constants. A compile
   * error is reported asynchronously by the next `read`/`sync` as a KernelCompileError
   * naming the kernel; `compile()` awaits it at once.
   */
  pipeline(k: Kernel): GPUComputePipeline {
    return this.compiled(k).pipeline;
  }

  private compiled(k: Kernel): CompiledKernel {
    const key = `${k.name}\u0000${k.entryPoint ?? 'main'}\u0000${k.constants ? JSON.stringify(k.constants) : ''}`;
    let src = this.sources.get(k.code);
    const hit = src?.kernels.get(key);
    if (hit) return hit;
    this.device.pushErrorScope('validation');
    if (!src) {
      src = { module: this.device.createShaderModule({ label: k.name, code: k.code }), kernels: new Map() };
      this.sources.set(k.code, src);
    }
    const { module, kernels } = src;
    const pipeline = this.device.createComputePipeline({
      label: k.name,
      layout: 'auto',
      compute: { module, entryPoint: k.entryPoint ?? 'main', ...(k.constants ? { constants: k.constants } : {}) },
    });
    let nameHash = FNV_OFFSET;
    for (let i = 0; i < k.name.length; i++) nameHash = fnvMix(nameHash, k.name.charCodeAt(i));
    // The layout inside the scope: on a pipeline that failed to compile it is one more error of it.
    const c: CompiledKernel = { pipeline, layout: pipeline.getBindGroupLayout(0), id: this.nextKernelId++, nameHash };
    const check = this.device.popErrorScope().then(async (err) => {
      if (!err) return null;
      // The next use compiles again (and reports again); the module goes with its last pipeline.
      kernels.delete(key);
      if (kernels.size === 0 && this.sources.get(k.code)?.kernels === kernels) this.sources.delete(k.code);
      let detail = err.message;
      try {
        const info = await module.getCompilationInfo();
        const msgs = info.messages.filter((m) => m.type === 'error').map((m) => `line ${m.lineNum}:${m.linePos}: ${m.message}`);
        if (msgs.length) detail = msgs.join('; ');
      } catch {
        /* keep the scope's message */
      }
      return new KernelCompileError(k.name, detail);
    });
    this.checks.push(check);
    kernels.set(key, c);
    return c;
  }

  /** Builds a kernel's pipeline now and throws its compile error, if any. */
  async compile(k: Kernel): Promise<void> {
    this.pipeline(k);
    await this.checkErrors();
  }

  /** Records one dispatch. Nothing runs until a read, `flush()` or `sync()`. */
  dispatch(a: DispatchArgs): void {
    this.assertUsable();
    const { pipeline, layout, id, nameHash } = this.compiled(a.kernel);
    const entries: GPUBindGroupEntry[] = [];
    let key = String(id);
    if (a.params && a.params.length > 0) {
      const p = this.writeParams(a.kernel.name, a.params);
      entries.push({ binding: 0, resource: p.binding });
      key += `|p${p.chunk}:${p.binding.offset}:${p.binding.size}`;
    }
    const align = this.device.limits.minStorageBufferOffsetAlignment;
    a.bindings.forEach((t, i) => {
      t.assertAlive(a.kernel.name);
      if (t.byteOffset % align !== 0) {
        throw new OpInputError(a.kernel.name, `binding ${i + 1} at a byte offset that is a multiple of ${align}`, `offset ${t.byteOffset}`);
      }
      entries.push({ binding: i + 1, resource: { buffer: t.buffer, offset: t.byteOffset, size: t.bindByteLength } });
      key += `|${t.storage.id}:${t.byteOffset}:${t.bindByteLength}`;
      t.storage.lastUse = this.epoch;
    });
    if (this.pool.trims !== this.bindGroupsAtTrim) {
      this.bindGroups.clear();
      this.bindGroupsAtTrim = this.pool.trims;
    }
    let bindGroup = this.bindGroups.get(key);
    if (!bindGroup) {
      // A new bind group is where a dispatch can fail validation (a layout mismatch, a buffer
      // bound writable twice, a range past its buffer): the batch gets an error scope, which
      // names its kernels when it fails. A cached one was created in a batch that passed, with
      // the same pipeline and ranges, so its dispatches pass again; the cache is cleared after
      // any error. Without a scope a batch saves a push and a pop (~10-40 us on lavapipe, where
      // one small kernel's whole run is ~200 us), and an error it would still raise reaches
      // onuncapturederror and the next sync().
      this.openScope();
      bindGroup = this.device.createBindGroup({ label: a.kernel.name, layout, entries });
      this.counts.bindGroups++;
      this.bindGroups.set(key, bindGroup);
      if (this.bindGroups.size > BIND_GROUP_CACHE) this.bindGroups.delete(this.bindGroups.keys().next().value!);
    }
    const wg = typeof a.workgroups === 'number' ? [a.workgroups, 1, 1] : [a.workgroups[0], a.workgroups[1] ?? 1, a.workgroups[2] ?? 1];
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (wg.some((n) => !Number.isInteger(n) || n! < 0 || n! > max)) {
      throw new OpInputError(a.kernel.name, `workgroup counts in [0, ${max}]`, `[${wg.join(', ')}]`);
    }
    if (wg.some((n) => n === 0)) return; // nothing to do: an empty tensor
    if (this.profiler && !this.timing) this.profileDispatch(a.kernel.name);
    const pass = this.beginPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(wg[0]!, wg[1]!, wg[2]!);
    this.pendingKernels.push(a.kernel.name);
    this.counts.dispatches++;
    this.workHash = fnvMix(fnvMix(fnvMix(fnvMix(this.workHash, nameHash), wg[0]!), wg[1]!), wg[2]!);
  }

  /**
   * Workgroup counts for `n` items at `perGroup` items per workgroup, folded into 2-D when
   * the count passes the per-dimension limit. Shaders recover the flat index as
   * `gid.x + gid.y * (nwg.x * WG)`.
   */
  grid(n: number, perGroup: number): [number, number] {
    const groups = Math.ceil(n / perGroup);
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (groups <= max) return [groups, 1];
    const y = Math.ceil(groups / max);
    return [Math.ceil(groups / y), y];
  }

  private writeParams(kernel: string, params: readonly Param[]): { binding: GPUBufferBinding & { offset: number; size: number }; chunk: number } {
    const bytes = params.length * 4;
    const slot = Math.ceil(bytes / PARAM_SLOT) * PARAM_SLOT;
    let c = this.chunks[this.chunkIndex];
    if (c && c.used + slot > CHUNK_BYTES) c = this.chunks[++this.chunkIndex];
    if (!c) {
      c = {
        id: this.nextChunkId++,
        buffer: this.device.createBuffer({ size: CHUNK_BYTES, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST, label: 'params' }),
        host: new ArrayBuffer(CHUNK_BYTES),
        used: 0,
        shadow: new Uint32Array(CHUNK_BYTES / 4),
        shadowUsed: 0,
      };
      this.chunks[this.chunkIndex] = c;
    }
    const dv = new DataView(c.host, c.used, bytes);
    params.forEach((p, i) => {
      if (typeof p === 'number') {
        if (!Number.isInteger(p) || p < 0 || p > 0xffffffff) {
          throw new OpInputError(kernel, `param ${i} a u32 (use f32()/i32() for others)`, String(p));
        }
        dv.setUint32(i * 4, p, true);
      } else if ('f32' in p) dv.setFloat32(i * 4, p.f32, true);
      else dv.setInt32(i * 4, p.i32, true);
    });
    const offset = c.used;
    c.used += slot;
    return { binding: { buffer: c.buffer, offset, size: bytes }, chunk: c.id };
  }

  /**
   * The encoder being recorded. Encoder commands report their validation errors at finish(),
   * inside the batch's error scope when it has one (openScope), so that a bad bind group or
   * dispatch anywhere in the batch is reported with the names of the kernels in it (Dawn's
   * message names the labels).
   */
  private recording(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  /** Opens the batch's validation error scope if it has none; flush() closes it after the submit. */
  private openScope(): void {
    if (this.scoped) return;
    this.device.pushErrorScope('validation');
    this.scoped = true;
  }

  /** Empties the params chunks: after their upload, or when nothing will read them. */
  private dropParams(): void {
    for (const c of this.chunks) c.used = 0;
    this.chunkIndex = 0;
  }

  /** Closes the batch's scope; its error, if any, is thrown by the next checkErrors() naming `kernels`. */
  private closeScope(kernels: string[]): void {
    this.checks.push(this.device.popErrorScope().then((err) => (err ? new KernelValidationError(kernels, err.message) : null)));
    this.scoped = false;
  }

  private beginPass(): GPUComputePassEncoder {
    if (this.pass) return this.pass;
    const enc = this.recording();
    const slot = this.profiler?.open;
    if (this.profiler && slot !== undefined && !this.timing) {
      this.profiler.open = undefined;
      this.pass = enc.beginComputePass({ timestampWrites: { querySet: this.profiler.querySet, beginningOfPassWriteIndex: 2 * slot, endOfPassWriteIndex: 2 * slot + 1 } });
    } else if (this.timing) {
      // Inside timed(): the first pass writes the start stamp (query 0); every pass writes the
      // end stamp (query 1). Passes run in order, so the last write is the end of the last
      // pass and query 1 - query 0 spans all of fn()'s passes, however often copies or
      // clears split them.
      const timestampWrites: GPUComputePassTimestampWrites = {
        querySet: this.timing.querySet,
        ...(this.timing.passes === 0 ? { beginningOfPassWriteIndex: 0 } : {}),
        endOfPassWriteIndex: 1,
      };
      this.timing.passes++;
      this.pass = enc.beginComputePass({ timestampWrites });
    } else {
      this.pass = enc.beginComputePass();
    }
    return this.pass;
  }

  private endPass(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    return this.recording();
  }

  /** Submits everything recorded so far as one command buffer. Does not wait. */
  flush(): void {
    if (!this.encoder) {
      // Nothing recorded since the last submit, but dispatches with no workgroups may have
      // written params (not needed) and opened a scope for their bind group (closed here).
      this.dropParams();
      if (this.scoped) this.closeScope([]);
      return;
    }
    this.assertUsable();
    const enc = this.endPass();
    // Params go up with writeBuffer now; the queue runs it before this submit and after the
    // previous one, so chunks can be reused from submit to submit.
    for (let i = 0; i <= this.chunkIndex; i++) {
      const c = this.chunks[i];
      if (c && c.used > 0 && !sameParams(c)) {
        this.device.queue.writeBuffer(c.buffer, 0, c.host, 0, c.used);
        c.shadow.set(new Uint32Array(c.host, 0, c.used / 4));
        c.shadowUsed = c.used;
        this.counts.paramUploads++;
      }
    }
    this.dropParams();
    const kernels = this.pendingKernels;
    this.pendingKernels = [];
    const profiled = this.profiler ? this.resolveProfile(enc) : null;
    this.device.queue.submit([enc.finish()]);
    if (profiled) this.profiler!.reads.push(profiled());
    if (this.scoped) {
      this.closeScope(kernels);
      this.counts.scopedSubmits++;
    }
    this.encoder = null;
    this.epoch++;
    this.counts.submits++;
    this.pendingSince ??= performance.now();
  }

  // ---- profiling (per kernel) -------------------------------------------------------------

  private profiler: {
    querySet: GPUQuerySet;
    capacity: number;
    names: string[]; // kernel of each slot recorded since the last flush
    open: number | undefined; // slot the next pass writes
    totals: Map<string, { count: number; ns: number }>;
    reads: Array<Promise<void>>;
  } | null = null;

  /**
   * Starts attributing GPU time to kernels: from now on every dispatch runs in a compute pass
   * of its own with timestamps at both ends (on devices with 'timestamp-query'; elsewhere
   * returns false and records nothing). This costs a pass per dispatch, so totals are a
   * little above a normal run's. Dawn quantizes timestamps (65.5 µs on lavapipe), which
   * averages out over many dispatches but not for one; a runtime made with
   * `dawnFlags: ['disable-dawn-features=timestamp_quantization']` reads them unrounded.
   * For finding where a step's time goes.
   */
  startProfile(): boolean {
    if (!this.canTime || this.profiler) return this.profiler !== null;
    this.flush();
    const capacity = 2048;
    this.profiler = {
      querySet: this.device.createQuerySet({ type: 'timestamp', count: 2 * capacity, label: 'profile' }),
      capacity,
      names: [],
      open: undefined,
      totals: new Map(),
      reads: [],
    };
    return true;
  }

  /** Stops profiling; resolves to GPU time per kernel name, largest first. */
  async stopProfile(): Promise<Array<{ kernel: string; count: number; ms: number }>> {
    const p = this.profiler;
    if (!p) return [];
    await this.sync();
    await Promise.all(p.reads);
    this.profiler = null;
    p.querySet.destroy();
    return [...p.totals].map(([kernel, t]) => ({ kernel, count: t.count, ms: t.ns / 1e6 })).sort((a, b) => b.ms - a.ms);
  }

  private profileDispatch(name: string): void {
    const p = this.profiler!;
    if (p.names.length === p.capacity) this.flush();
    if (this.pass) this.endPass();
    p.open = p.names.length;
    p.names.push(name);
  }

  /** Resolves this submit's timestamps; the returned function, called after the submit, reads them. */
  private resolveProfile(enc: GPUCommandEncoder): (() => Promise<void>) | null {
    const p = this.profiler!;
    const names = p.names;
    p.names = [];
    p.open = undefined;
    if (names.length === 0) return null;
    const bytes = names.length * 16;
    const resolve = this.device.createBuffer({ size: bytes, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC, label: 'profile-resolve' });
    const read = this.device.createBuffer({ size: bytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST, label: 'profile-read' });
    enc.resolveQuerySet(p.querySet, 0, 2 * names.length, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, read, 0, bytes);
    return async () => {
      await read.mapAsync(MapMode.READ);
      const t = new BigUint64Array(read.getMappedRange().slice(0));
      read.unmap();
      read.destroy();
      resolve.destroy();
      names.forEach((name, i) => {
        const span = t[2 * i + 1]! > t[2 * i]! ? Number(t[2 * i + 1]! - t[2 * i]!) : 0;
        const e = p.totals.get(name) ?? { count: 0, ns: 0 };
        e.count++;
        e.ns += span;
        p.totals.set(name, e);
      });
    };
  }

  // ---- timing (benchmarks) ----------------------------------------------------------------

  /** The open timed() bracket: passes begun since it opened write timestamps into querySet. */
  private timing: { querySet: GPUQuerySet; passes: number } | null = null;
  private timer: { querySet: GPUQuerySet; resolve: GPUBuffer; read: GPUBuffer } | null = null;
  private timerBusy = false;

  /** Whether `timed()` measures GPU time (the device has 'timestamp-query'). */
  get canTime(): boolean {
    return this.info.features.timestampQuery;
  }

  /**
   * Records `fn()`'s dispatches in compute passes bracketed by timestamp writes, submits, and
   * resolves to the GPU nanoseconds from the start of the first of those passes to the end of
   * the last (copies and clears between them included). Resolves to 0 when fn() dispatched
   * nothing, and to null on a device without 'timestamp-query' (then it only submits and
   * waits). Work recorded before the call is submitted with it but outside the bracket.
   * The work is submitted before timed() returns its promise (the promise only waits), so a
   * caller may also time it with the queue's onSubmittedWorkDone. One timed() at a time: a nested or overlapping call throws. For benchmarks only: a
   * normal step should never wait on the GPU like this.
   */
  async timed(fn: () => void): Promise<number | null> {
    this.assertUsable();
    if (this.timerBusy) throw new OpInputError('timed', 'no other timed() in flight', 'a nested or overlapping call');
    if (!this.canTime) {
      fn();
      await this.sync();
      return null;
    }
    this.timerBusy = true;
    try {
      this.timer ??= {
        querySet: this.device.createQuerySet({ type: 'timestamp', count: 2, label: 'timed' }),
        resolve: this.device.createBuffer({ size: 16, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC, label: 'timed-resolve' }),
        read: this.device.createBuffer({ size: 16, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST, label: 'timed-read' }),
      };
      // Close a pass opened before the call so that its dispatches stay out of the bracket.
      if (this.pass) this.endPass();
      const timing = { querySet: this.timer.querySet, passes: 0 };
      this.timing = timing;
      try {
        fn();
      } finally {
        this.timing = null;
      }
      if (timing.passes === 0) {
        await this.sync();
        return 0;
      }
      const enc = this.endPass();
      enc.resolveQuerySet(this.timer.querySet, 0, 2, this.timer.resolve, 0);
      enc.copyBufferToBuffer(this.timer.resolve, 0, this.timer.read, 0, 16);
      this.flush();
      const read = this.timer.read;
      try {
        await this.waitFor('timed', () => read.mapAsync(MapMode.READ, 0, 16));
      } catch (e) {
        this.assertUsable();
        throw e;
      }
      const [t0, t1] = new BigUint64Array(read.getMappedRange(0, 16).slice(0));
      read.unmap();
      await this.checkErrors();
      // Some drivers reset or wrap the counter between passes: never report a negative span.
      return t1! > t0! ? Number(t1! - t0!) : 0;
    } finally {
      this.timerBusy = false;
    }
  }

  /** Submits and waits until the GPU has finished; throws any pending error. */
  async sync(): Promise<void> {
    this.flush();
    await this.waitFor('sync', () => this.device.queue.onSubmittedWorkDone());
    await this.checkErrors();
  }

  /**
   * Awaits a promise that resolves when submitted work is done, through `idle` so that, on a
   * software adapter, the JS thread sleeps instead of spinning while the driver's threads
   * work. Keyed by the kind of wait and the dispatches recorded since the previous wait (their
   * number, and a hash of their kernels and workgroup counts).
   */
  private async waitFor<T>(kind: string, start: () => Promise<T>): Promise<T> {
    const since = this.pendingSince ?? performance.now();
    const key = `${kind}:${this.counts.dispatches - this.dispatchesAtWait}:${this.workHash.toString(36)}`;
    this.pendingSince = null;
    this.dispatchesAtWait = this.counts.dispatches;
    this.workHash = FNV_OFFSET;
    return this.idle.wait(key, since, start);
  }

  private async checkErrors(): Promise<void> {
    const checks = this.checks;
    this.checks = [];
    const errs = await Promise.all(checks);
    this.assertUsable();
    const first = errs.find((e) => e !== null) ?? this.uncaptured;
    this.uncaptured = null;
    if (first) {
      // Bind groups are trusted without a scope once their batch passed: after an error, every
      // one is made (and checked) again.
      this.bindGroups.clear();
      // The encoder may hold dispatches of the failed kernel: drop it, and close its scope.
      if (this.scoped) void this.device.popErrorScope().catch(() => undefined);
      this.scoped = false;
      if (this.encoder) {
        this.pass = null;
        this.encoder = null;
        this.pendingKernels = [];
        this.dropParams();
      }
      throw first;
    }
  }

  private assertUsable(): void {
    if (this.lostInfo) throw new DeviceLostError(this.lostInfo.reason, this.lostInfo.message);
  }

  /** Releases the device (lets Node exit). */
  destroy(): void {
    this.pool.trim();
    this.lostInfo ??= { reason: 'destroyed', message: 'Runtime.destroy() was called' };
    this.device.destroy();
  }
}

/** Whether a chunk's params are the bytes its GPU buffer already holds from the last upload. */
function sameParams(c: UniformChunk): boolean {
  if (c.used > c.shadowUsed) return false;
  const now = new Uint32Array(c.host, 0, c.used / 4);
  const was = c.shadow;
  for (let i = 0; i < now.length; i++) if (now[i] !== was[i]) return false;
  return true;
}

function SharedArrayBufferCtor(): new (n: number) => ArrayBufferLike {
  return (typeof SharedArrayBuffer === 'function' ? SharedArrayBuffer : class {}) as never;
}

let shared: Runtime | null = null;
let creating: Promise<Runtime> | null = null;

/** The process-wide runtime (one device), created on first use and again after a loss. */
export async function getRuntime(opts?: DeviceOptions): Promise<Runtime> {
  if (shared && !shared.isLost) return shared;
  creating ??= Runtime.create(opts).then(
    (r) => {
      shared = r;
      creating = null;
      return r;
    },
    (e: unknown) => {
      creating = null;
      throw e;
    },
  );
  return creating;
}
