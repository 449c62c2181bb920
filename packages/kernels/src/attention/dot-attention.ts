import { OpInputError, type Runtime, type Tensor } from '@crnn/core';
import { matmul } from '../matmul/matmul.js';
import { softmax, softmaxBackward } from '../softmax/softmax.js';
import { expectDType, expectPositiveInts, expectRank, expectShape, isTensor } from '../validate.js';

export interface DotAttentionOptions {
  /**
   * Valid encoder positions per batch item (a source mask): attention to positions s >=
   * length is 0, and those positions get no gradient. A host array is checked (N integers
   * in [1, S]); an i32 tensor [N] is used as is, clamped to [0, S] on the GPU (a length of
   * 0 gives zero attention and a zero context).
   */
  sourceLengths?: Tensor | ArrayLike<number>;
}

export interface DotAttentionResult {
  /** [N, T, H] = attention @ encoder. */
  context: Tensor;
  /** [N, T, S] = softmax over S of decoder @ encoder^T. Keep it for the backward pass. */
  attention: Tensor;
}

export interface DotAttentionGrads {
  dEncoder: Tensor;
  dDecoder: Tensor;
}

/**
 * A tensor rather than a host array. Duck-typed, not `instanceof`: a second copy of
 * @crnn/core (dist next to src) would make instanceof fail for real tensors.
 */
function dims(op: string, encoder: Tensor, decoder: Tensor): { n: number; s: number; t: number; h: number } {
  expectRank(op, 'encoder', encoder, 3);
  expectRank(op, 'decoder', decoder, 3);
  expectDType(op, 'encoder', encoder, 'f32');
  expectDType(op, 'decoder', decoder, 'f32');
  const [n, s, h] = encoder.shape as [number, number, number];
  const [nd, t, hd] = decoder.shape as [number, number, number];
  if (nd !== n || hd !== h) {
    throw new OpInputError(op, `decoder of shape [${n}, T, ${h}] (encoder is [${n}, ${s}, ${h}])`, `[${decoder.shape.join(', ')}]`);
  }
  expectPositiveInts(op, 'sizes [N, S, T, H]', [n, s, t, h]);
  return { n, s, t, h };
}

function checkLengths(op: string, n: number, s: number, lengths: Tensor | ArrayLike<number> | undefined): void {
  if (lengths === undefined) return;
  if (isTensor(lengths)) {
    expectDType(op, 'sourceLengths', lengths, 'i32');
    expectShape(op, 'sourceLengths', lengths, [n]);
    return;
  }
  if (lengths.length !== n) throw new OpInputError(op, `${n} sourceLengths (one per batch item)`, `${lengths.length}`);
  for (let i = 0; i < n; i++) {
    const v = lengths[i]!;
    if (!Number.isInteger(v) || v < 1 || v > s) {
      throw new OpInputError(op, `sourceLengths integers in [1, ${s}]`, `sourceLengths[${i}] = ${v}`);
    }
  }
}

/**
 * Luong dot attention: scores [N, T, S] = decoder [N, T, H] @ encoder [N, S, H]^T,
 * attention = softmax over S (masked by sourceLengths), context [N, T, H] = attention @
 * encoder. Batched matmuls and the softmax kernel; no new shader.
 */
export function dotAttention(rt: Runtime, encoder: Tensor, decoder: Tensor, o: DotAttentionOptions = {}): DotAttentionResult {
  const op = 'dot_attention';
  const { n, s } = dims(op, encoder, decoder);
  checkLengths(op, n, s, o.sourceLengths);
  const scores = matmul(rt, decoder, encoder, { transB: true });
  const attention = softmax(rt, scores, { axis: -1, ...(o.sourceLengths ? { lengths: o.sourceLengths } : {}) });
  scores.dispose();
  const context = matmul(rt, attention, encoder);
  return { context, attention };
}

/**
 * Gradients of dot attention from dContext [N, T, H] and/or dAttention [N, T, S] (either may
 * be null; not both), given the forward's `attention`:
 *   dA = dContext @ encoder^T (+ dAttention)      dScores = softmax_backward(dA, attention)
 *   dEncoder = attention^T @ dContext + dScores^T @ decoder
 *   dDecoder = dScores @ encoder
 * Masked positions have attention 0, so their dScores, and their rows of dEncoder, are 0.
 */
export function dotAttentionBackward(
  rt: Runtime,
  dContext: Tensor | null,
  dAttention: Tensor | null,
  encoder: Tensor,
  decoder: Tensor,
  attention: Tensor,
): DotAttentionGrads {
  const op = 'dot_attention_backward';
  const { n, s, t, h } = dims(op, encoder, decoder);
  expectShape(op, 'attention', attention, [n, t, s]);
  if (!dContext && !dAttention) throw new OpInputError(op, 'dContext or dAttention', 'neither');
  if (dContext) {
    expectDType(op, 'dContext', dContext, 'f32');
    expectShape(op, 'dContext', dContext, [n, t, h]);
  }
  if (dAttention) {
    expectDType(op, 'dAttention', dAttention, 'f32');
    expectShape(op, 'dAttention', dAttention, [n, t, s]);
  }
  let dA: Tensor;
  if (dContext) {
    // Start from a copy of dAttention (when given) and let the matmul add into it.
    let acc: Tensor | undefined;
    if (dAttention) {
      acc = rt.empty([n, t, s]);
      rt.copy(dAttention, acc);
    }
    dA = matmul(rt, dContext, encoder, { transB: true, ...(acc ? { accumulate: acc } : {}) });
  } else {
    dA = dAttention!;
  }
  const dScores = softmaxBackward(rt, dA, attention, { axis: -1 });
  if (dA !== dAttention) dA.dispose();
  const dEncoder = matmul(rt, dScores, decoder, { transA: true });
  if (dContext) matmul(rt, attention, dContext, { transA: true, accumulate: dEncoder });
  const dDecoder = matmul(rt, dScores, encoder);
  dScores.dispose();
  return { dEncoder, dDecoder };
}
