import { BufferUsage } from './usage.js';

let nextStorageId = 0;

/**
 * A GPU buffer owned by the pool. `refs` counts the tensors (views included) that use it;
 * `lastUse` is the submit epoch of the last command that touched it, so that a CPU write
 * into a recycled buffer can first flush commands that still read its old contents.
 */
export class Storage {
  refs = 1;
  lastUse = -1;
  /** Unique per buffer for the runtime's life, never reused: a bind group cache key. */
  readonly id = nextStorageId++;
  constructor(
    readonly buffer: GPUBuffer,
    /** Bytes actually allocated (the size class), >= what the tensor needs. */
    readonly byteLength: number,
    readonly usage: number,
  ) {}
}

export interface PoolCounters {
  /** Bytes in buffers handed out and not yet released (by size class). */
  bytesLive: number;
  /** Bytes in released buffers kept for reuse. */
  bytesPooled: number;
  /** createBuffer calls made by the pool. */
  allocations: number;
  /** Requests served from the pool without a createBuffer. */
  reuses: number;
  /** Largest bytesLive seen since creation or the last resetPeak(). */
  peakBytesLive: number;
  /** Buffers handed out and not yet released. */
  buffersLive: number;
}

/**
 * Rounds a request to its size class: powers of two up to 1 MiB, then eight classes per
 * octave (at most 12.5% waste), so that buffers of near sizes are shared across steps.
 */
export function sizeClass(bytes: number): number {
  const b = Math.max(256, Math.ceil(bytes / 4) * 4);
  const p = 2 ** Math.ceil(Math.log2(b));
  if (p <= 1 << 20) return p;
  const step = p / 16; // the octave (p/2, p] cut in 8 steps of p/16
  return Math.ceil(b / step) * step;
}

export const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
/** Storage that may also be bound as a uniform buffer (see Runtime.emptyUniform). */
export const UNIFORM_STORAGE_USAGE = STORAGE_USAGE | BufferUsage.UNIFORM;

export class BufferPool {
  private free = new Map<string, Storage[]>();
  private c: PoolCounters = {
    bytesLive: 0,
    bytesPooled: 0,
    allocations: 0,
    reuses: 0,
    peakBytesLive: 0,
    buffersLive: 0,
  };

  private trimCount = 0;

  constructor(private readonly device: GPUDevice) {}

  get counters(): Readonly<PoolCounters> {
    return { ...this.c };
  }

  resetPeak(): void {
    this.c.peakBytesLive = this.c.bytesLive;
  }

  acquire(bytes: number, usage: number = STORAGE_USAGE, label?: string): Storage {
    const size = sizeClass(bytes);
    const key = `${usage}:${size}`;
    const list = this.free.get(key);
    let s = list?.pop();
    if (s) {
      s.refs = 1;
      this.c.reuses++;
      this.c.bytesPooled -= size;
    } else {
      const buffer = this.device.createBuffer({ size, usage, label: label ?? `pool-${size}` });
      s = new Storage(buffer, size, usage);
      this.c.allocations++;
    }
    this.c.bytesLive += size;
    this.c.buffersLive++;
    if (this.c.bytesLive > this.c.peakBytesLive) this.c.peakBytesLive = this.c.bytesLive;
    return s;
  }

  release(s: Storage): void {
    const key = `${s.usage}:${s.byteLength}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(s);
    this.c.bytesLive -= s.byteLength;
    this.c.buffersLive--;
    this.c.bytesPooled += s.byteLength;
  }

  /** How many times trim() has run: what holds on to buffers (bind groups) must drop them. */
  get trims(): number {
    return this.trimCount;
  }

  /** Destroys every pooled (free) buffer. */
  trim(): void {
    this.trimCount++;
    for (const list of this.free.values()) for (const s of list) s.buffer.destroy();
    this.free.clear();
    this.c.bytesPooled = 0;
  }
}
