import { f32, i32, OpInputError, type Runtime, type Tensor } from '@crnn/core';
import { expectDType, expectPositiveInts, expectRank, expectShape, isTensor } from '../validate.js';
import embeddingSrc from './embedding.wgsl.js';

const WG = 64;
/** Indices that fit backward4's 64 KiB uniform copy (array<vec4<i32>, 4096>). */
const UNIFORM_INDICES = 16384;

export interface EmbeddingOptions {
  /** A row that receives no gradient (its lookups still return the row). Negative counts from V. */
  paddingIdx?: number;
  /** Shape of `indices` when they are given as a host array. Default [indices.length]. */
  indicesShape?: readonly number[];
}

export interface EmbeddingBackwardOptions extends EmbeddingOptions {
  /** Add the gradient into this [V, D] tensor (gradient accumulation) and return it. */
  accumulate?: Tensor;
}

/**
 * A tensor rather than a host array. Duck-typed, not `instanceof`: a second copy of
 * @crnn/core (dist next to src) would make instanceof fail for real tensors.
 */
function paddingIndex(op: string, vocab: number, p: number | undefined): number | null {
  if (p === undefined) return null;
  if (!Number.isInteger(p) || p < -vocab || p >= vocab) {
    throw new OpInputError(op, `paddingIdx an integer in [${-vocab}, ${vocab})`, String(p));
  }
  return p < 0 ? p + vocab : p;
}

/**
 * The i32 index tensor to bind. A host array is checked (integers in [0, V)) and uploaded;
 * a tensor is used as is, and out-of-range values in it are handled on the GPU (see
 * embedding.wgsl: NaN rows forward, dropped backward).
 */
function prepareIndices(
  rt: Runtime,
  op: string,
  vocab: number,
  indices: Tensor | ArrayLike<number>,
  shape: readonly number[] | undefined,
): { t: Tensor; owned: boolean } {
  if (isTensor(indices)) {
    indices.assertAlive(op);
    expectDType(op, 'indices', indices, 'i32');
    if (shape) expectShape(op, 'indices', indices, shape);
    return { t: indices, owned: false };
  }
  const s = shape ?? [indices.length];
  const n = s.reduce((p, q) => p * q, 1);
  if (!s.every((d) => Number.isInteger(d) && d >= 0) || n !== indices.length) {
    throw new OpInputError(op, `indicesShape of non-negative integers holding ${indices.length} indices`, `[${s.join(', ')}]`);
  }
  for (let k = 0; k < indices.length; k++) {
    const v = indices[k]!;
    if (!Number.isInteger(v) || v < 0 || v >= vocab) {
      throw new OpInputError(op, `indices integers in [0, ${vocab})`, `indices[${k}] = ${v}`);
    }
  }
  return { t: rt.upload(indices, s, 'i32'), owned: true };
}

/**
 * vec4s per invocation of forward4: on a software adapter the largest of 8, 4, 2 and 1 that
 * divides D / 4, so that one index read and one division serve that many vec4s (lavapipe runs
 * each storage read lane by lane); one on GPUs. Bench V40 D256 [8, 10], three rounds: GPU time
 * 0.10-0.12 ms with one, 0.08-0.11 with 8; wall times 0.18-0.27 ms either way, tfjs's
 * 0.52-0.84 in the same runs.
 */
export function forwardPer(rt: Runtime, d4: number): number {
  if (!rt.info.isSoftware) return 1;
  return [8, 4, 2, 1].find((p) => d4 % p === 0)!;
}

/**
 * y = weight[indices]: weight [V, D], indices i32 of any shape (or a host array, which is
 * validated) -> [...indices.shape, D]. An out-of-range index in an index tensor gives a NaN
 * output row.
 */
export function embedding(rt: Runtime, weight: Tensor, indices: Tensor | ArrayLike<number>, o: EmbeddingOptions = {}): Tensor {
  const op = 'embedding';
  expectRank(op, 'weight', weight, 2);
  expectDType(op, 'weight', weight, 'f32');
  const [vocab, dim] = weight.shape as [number, number];
  expectPositiveInts(op, 'weight dimensions [V, D]', [vocab, dim]);
  paddingIndex(op, vocab, o.paddingIdx);
  const ix = prepareIndices(rt, op, vocab, indices, o.indicesShape);
  const y = rt.empty([...ix.t.shape, dim]);
  // D % 4 == 0: forward4 copies vec4s of the row (params.dim counts vec4s; see embedding.wgsl).
  const w = dim % 4 === 0 ? 4 : 1;
  const per = w === 4 ? forwardPer(rt, dim / 4) : 1;
  rt.dispatch({
    kernel: { name: w === 4 ? 'embedding_forward_vec4' : 'embedding_forward', code: embeddingSrc, entryPoint: w === 4 ? 'forward4' : 'forward', constants: w === 4 ? { WG, PER: per } : { WG } },
    params: [ix.t.size, vocab, dim / w, i32(-1), f32(NaN)],
    bindings: [ix.t, y, weight],
    workgroups: rt.grid((ix.t.size * dim) / w / per, WG),
  });
  if (ix.owned) ix.t.dispose();
  return y;
}

/**
 * dweight [V, D] = sum over k of onehot(indices[k]) dy[k] (repeated indices accumulate, in a
 * fixed order: deterministic), with row paddingIdx left at 0 (or unchanged when
 * accumulating). dy is [...indices.shape, D]. Out-of-range indices contribute nothing.
 */
export function embeddingBackward(
  rt: Runtime,
  dy: Tensor,
  indices: Tensor | ArrayLike<number>,
  numEmbeddings: number,
  o: EmbeddingBackwardOptions = {},
): Tensor {
  const op = 'embedding_backward';
  dy.assertAlive(op);
  expectDType(op, 'dy', dy, 'f32');
  expectPositiveInts(op, 'numEmbeddings', [numEmbeddings]);
  if (dy.rank < 1) throw new OpInputError(op, 'dy of rank >= 1', 'rank 0');
  const dim = dy.shape[dy.rank - 1]!;
  expectPositiveInts(op, 'embedding dimension D (last of dy)', [dim]);
  const pad = paddingIndex(op, numEmbeddings, o.paddingIdx);
  const ix = prepareIndices(rt, op, numEmbeddings, indices, o.indicesShape);
  try {
    expectShape(op, 'dy', dy, [...ix.t.shape, dim]);
    if (o.accumulate) {
      expectDType(op, 'accumulate', o.accumulate, 'f32');
      expectShape(op, 'accumulate', o.accumulate, [numEmbeddings, dim]);
    }
  } catch (e) {
    if (ix.owned) ix.t.dispose();
    throw e;
  }
  const dw = o.accumulate ?? rt.empty([numEmbeddings, dim]);
  // D % 4 == 0 and the indices fit 64 KiB: backward4 sums vec4s of the row (params.dim counts
  // vec4s) and reads the indices from a uniform copy (see embedding.wgsl).
  const n = ix.t.size;
  const w = dim % 4 === 0 && n > 0 && n <= UNIFORM_INDICES ? 4 : 1;
  let idx = ix.t;
  if (w === 4) {
    const window = rt.emptyUniform([UNIFORM_INDICES], 'i32', 'embedding-indices');
    const head = window.view([n], 0);
    rt.copy(ix.t, head);
    head.dispose();
    idx = window;
  }
  rt.dispatch({
    kernel: {
      name: w === 4 ? 'embedding_backward_vec4' : 'embedding_backward',
      code: embeddingSrc,
      entryPoint: w === 4 ? 'backward4' : 'backward',
      constants: { WG, HAS_PAD: pad === null ? 0 : 1, ACCUMULATE: o.accumulate ? 1 : 0 },
    },
    params: [n, numEmbeddings, dim / w, i32(pad ?? -1), f32(NaN)],
    bindings: [idx, dw, dy],
    workgroups: rt.grid((numEmbeddings * dim) / w, WG),
  });
  if (idx !== ix.t) idx.dispose();
  if (ix.owned) ix.t.dispose();
  return dw;
}
