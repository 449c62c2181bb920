import { OpInputError, type Runtime, type Tensor } from '@crnn/core';
import { sumAxes } from '../elementwise/elementwise.js';
import { expectDType, expectRank, expectShape } from '../validate.js';
import matmulSrc from './matmul.wgsl.js';

export interface MatmulOptions {
  /** A is stored [K, M] (or [batch, K, M]). */
  transA?: boolean;
  /** B is stored [N, K] (or [batch, N, K]). */
  transB?: boolean;
  /** Added to every row: [N]. */
  bias?: Tensor;
  /** Accumulate into this tensor ([M, N] or [batch, M, N]) instead of a new one. */
  accumulate?: Tensor;
}

/**
 * C = op(A) op(B) (+ bias). Rank 2 operands, or rank 3 [batch, ., .]; a rank-2 operand
 * next to a rank-3 one is broadcast over the batch.
 */
export function matmul(rt: Runtime, a: Tensor, b: Tensor, o: MatmulOptions = {}): Tensor {
  const op = 'matmul';
  expectRank(op, 'a', a, [2, 3]);
  expectRank(op, 'b', b, [2, 3]);
  expectDType(op, 'a', a, 'f32');
  expectDType(op, 'b', b, 'f32');
  const batchA = a.rank === 3 ? a.shape[0]! : 1;
  const batchB = b.rank === 3 ? b.shape[0]! : 1;
  if (a.rank === 3 && b.rank === 3 && batchA !== batchB) {
    throw new OpInputError(op, `equal batch sizes`, `${batchA} and ${batchB}`);
  }
  const batch = Math.max(batchA, batchB);
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const [m, k] = o.transA ? [ac, ar] : [ar, ac];
  const [kb, n] = o.transB ? [bc, br] : [br, bc];
  if (k !== kb) {
    throw new OpInputError(op, `inner dimensions to agree (op(A) is [${m}, ${k}])`, `op(B) of [${kb}, ${n}]`);
  }
  const outShape = a.rank === 3 || b.rank === 3 ? [batch, m, n] : [m, n];
  if (o.bias) expectShape(op, 'bias', o.bias, [n]);
  if (o.accumulate) expectShape(op, 'accumulate', o.accumulate, outShape);
  const c = o.accumulate ?? rt.empty(outShape);
  const bindings = [a, b, c, o.bias ?? rt.placeholder];
  rt.dispatch({
    kernel: {
      name: 'matmul',
      code: matmulSrc,
      constants: {
        TRANS_A: o.transA ? 1 : 0,
        TRANS_B: o.transB ? 1 : 0,
        HAS_BIAS: o.bias ? 1 : 0,
        ACCUMULATE: o.accumulate ? 1 : 0,
      },
    },
    params: [m, n, k, a.rank === 3 ? m * k : 0, b.rank === 3 ? k * n : 0, m * n],
    bindings,
    workgroups: [Math.ceil(n / 16), Math.ceil(m / 16), batch],
  });
  return c;
}

/** y = x W^T + b over x of shape [..., in], W [out, in], b [out]. */
export function linear(rt: Runtime, x: Tensor, w: Tensor, bias?: Tensor): Tensor {
  const op = 'linear';
  expectRank(op, 'weight', w, 2);
  if (x.rank < 1) throw new OpInputError(op, 'x of rank >= 1', `rank ${x.rank}`);
  const [out, inF] = w.shape as [number, number];
  if (x.shape[x.rank - 1] !== inF) {
    throw new OpInputError(op, `x of shape [..., ${inF}] (weight is [${out}, ${inF}])`, `[${x.shape.join(', ')}]`);
  }
  const rows = x.size / inF;
  const x2 = x.reshape([rows, inF]);
  const y = matmul(rt, x2, w, { transB: true, ...(bias ? { bias } : {}) });
  x2.dispose();
  const shaped = y.reshape([...x.shape.slice(0, -1), out]);
  y.dispose();
  return shaped;
}

export interface LinearGrads {
  dx?: Tensor;
  dw?: Tensor;
  db?: Tensor;
}

/**
 * Gradients of y = x W^T + b: dx = dy W, dW = dy^T x, db = sum of dy over rows.
 * `accumulate` adds dW / db into existing gradient tensors instead of returning new ones.
 */
export function linearBackward(
  rt: Runtime,
  dy: Tensor,
  x: Tensor,
  w: Tensor,
  need: { x?: boolean; w?: boolean; b?: boolean } = { x: true, w: true, b: true },
  accumulate: { dw?: Tensor; db?: Tensor } = {},
): LinearGrads {
  const [out, inF] = w.shape as [number, number];
  const rows = x.size / inF;
  expectShape('linear_backward', 'dy', dy, [...x.shape.slice(0, -1), out]);
  const dy2 = dy.reshape([rows, out]);
  const x2 = x.reshape([rows, inF]);
  const g: LinearGrads = {};
  if (need.x) {
    const dx = matmul(rt, dy2, w);
    g.dx = dx.reshape(x.shape);
    dx.dispose();
  }
  if (need.w) g.dw = matmul(rt, dy2, x2, { transA: true, ...(accumulate.dw ? { accumulate: accumulate.dw } : {}) });
  if (need.b) g.db = sumAxes(rt, dy2, [rows, out, 1], accumulate.db);
  dy2.dispose();
  x2.dispose();
  return g;
}
