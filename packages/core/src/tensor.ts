import type { Storage } from './buffer-pool.js';
import { DTYPE_BYTES, type DType } from './dtype.js';
import { OpInputError } from './errors.js';

/** Anything that can give a storage back: the runtime's pool. */
export interface StorageOwner {
  releaseStorage(s: Storage): void;
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function checkShape(op: string, shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new OpInputError(op, 'a shape of non-negative integers', `[${shape.join(', ')}]`);
    }
  }
}

/**
 * A typed, shaped, row-major view of a GPU buffer. Views made by `reshape` and `view` share
 * the buffer; the buffer goes back to the pool when the last of them is disposed.
 */
export class Tensor {
  readonly size: number;
  private disposed = false;

  constructor(
    readonly owner: StorageOwner,
    readonly storage: Storage,
    readonly shape: readonly number[],
    readonly dtype: DType,
    /** Offset of element 0 in the buffer, in bytes. */
    readonly byteOffset = 0,
  ) {
    this.size = shapeSize(shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  get byteLength(): number {
    return this.size * DTYPE_BYTES[this.dtype];
  }

  /** Bytes bound to a shader: WebGPU wants a multiple of 4 and more than 0. */
  get bindByteLength(): number {
    return Math.max(4, Math.ceil(this.byteLength / 4) * 4);
  }

  get buffer(): GPUBuffer {
    this.assertAlive('buffer');
    return this.storage.buffer;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  assertAlive(op: string): void {
    if (this.disposed) throw new OpInputError(op, 'a live tensor', `a disposed tensor of shape [${this.shape.join(', ')}]`);
  }

  /** Same data, another shape of the same size; shares the buffer. `-1` infers one dimension. */
  reshape(shape: readonly number[]): Tensor {
    this.assertAlive('reshape');
    const infer = shape.indexOf(-1);
    const full = [...shape];
    if (infer >= 0) {
      const rest = shapeSize(shape.filter((_, i) => i !== infer));
      if (rest === 0 || this.size % rest !== 0) {
        throw new OpInputError('reshape', `a shape compatible with ${this.size} elements`, `[${shape.join(', ')}]`);
      }
      full[infer] = this.size / rest;
    }
    checkShape('reshape', full);
    if (shapeSize(full) !== this.size) {
      throw new OpInputError('reshape', `${this.size} elements ([${this.shape.join(', ')}])`, `[${full.join(', ')}] (${shapeSize(full)} elements)`);
    }
    return this.view(full, 0);
  }

  /**
   * A view of `shape` starting `elementOffset` elements in; shares the buffer. Kernels bind
   * views directly, so the byte offset must respect the device's storage offset alignment
   * (256 bytes on most adapters), which the runtime checks when it binds.
   */
  view(shape: readonly number[], elementOffset: number): Tensor {
    this.assertAlive('view');
    const n = shapeSize(shape);
    if (elementOffset < 0 || elementOffset + n > this.size) {
      throw new OpInputError('view', `elements [${elementOffset}, ${elementOffset + n}) within ${this.size}`, 'a range outside the tensor');
    }
    this.storage.refs++;
    return new Tensor(this.owner, this.storage, [...shape], this.dtype, this.byteOffset + elementOffset * DTYPE_BYTES[this.dtype]);
  }

  /**
   * A 1-D view of `elements` elements from this view's first element on, which may reach
   * past this view's end, up to the end of its buffer: one range over neighbouring views of
   * one buffer (a packed parameter arena), for kernels that treat them as one. Shares the
   * buffer like `view`.
   */
  span(elements: number): Tensor {
    this.assertAlive('span');
    const bytes = elements * DTYPE_BYTES[this.dtype];
    if (!Number.isInteger(elements) || elements < 0 || this.byteOffset + bytes > this.storage.byteLength) {
      throw new OpInputError(
        'span',
        `a whole number of elements within the buffer (${(this.storage.byteLength - this.byteOffset) / DTYPE_BYTES[this.dtype]} from this view on)`,
        String(elements),
      );
    }
    this.storage.refs++;
    return new Tensor(this.owner, this.storage, [elements], this.dtype, this.byteOffset);
  }

  /** Gives the buffer back to the pool once no view uses it. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (--this.storage.refs === 0) this.owner.releaseStorage(this.storage);
  }

  toString(): string {
    return `Tensor<${this.dtype}>[${this.shape.join(', ')}]`;
  }
}
