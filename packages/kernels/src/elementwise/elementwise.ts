import { f32, OpInputError, type Param, type Runtime, type Tensor } from '@crnn/core';
import { expectDType, expectSameShape } from '../validate.js';
import unarySrc from './unary.wgsl.js';
import binarySrc from './binary.wgsl.js';
import sumAxesSrc from './sum-axes.wgsl.js';
import dropoutSrc from './dropout.wgsl.js';

const WG = 256;
/** vec4s per invocation in the vec4 entry points (see unary.wgsl). */
const PER = 4;
export type UnaryOp = 'relu' | 'tanh' | 'sigmoid' | 'scale';
const UNARY_CODE: Record<UnaryOp, number> = { relu: 0, tanh: 1, sigmoid: 2, scale: 3 };
export type BinaryOp = 'add' | 'mul' | 'sub';
const BINARY_CODE: Record<BinaryOp, number> = { add: 0, mul: 1, sub: 2 };

/**
 * One launch of an elementwise entry point over n items: `entry` (one element per invocation)
 * or, when `vec4` (n a multiple of 4), `${entry}4` (PER vec4s per invocation; see unary.wgsl).
 * `params(w)` gets the element width, 1 or 4: the vec4 entry points count vec4s.
 */
function launch(rt: Runtime, name: string, code: string, entry: string, opCode: number, n: number, vec4: boolean, params: (w: number) => Param[], bindings: Tensor[]): void {
  rt.dispatch({
    kernel: vec4
      ? { name: `${name}_vec4`, code, entryPoint: `${entry}4`, constants: { WG, OP: opCode, PER } }
      : { name, code, entryPoint: entry, constants: { WG, OP: opCode } },
    params: params(vec4 ? 4 : 1),
    bindings,
    workgroups: rt.grid(vec4 ? Math.ceil(n / 4 / PER) : n, WG),
  });
}

const vec4able = (...sizes: number[]) => sizes.every((n) => n > 0 && n % 4 === 0);

/** y = op(x). `alpha` is the factor of `scale`. */
export function unary(rt: Runtime, op: UnaryOp, x: Tensor, alpha = 1): Tensor {
  expectDType(op, 'x', x, 'f32');
  const y = rt.empty(x.shape);
  launch(rt, `${op}_forward`, unarySrc, 'forward', UNARY_CODE[op], x.size, vec4able(x.size), (w) => [x.size / w, f32(alpha)], [x, y]);
  return y;
}

/** dx for y = op(x), from the upstream gradient dy and the forward output y. */
export function unaryBackward(rt: Runtime, op: UnaryOp, dy: Tensor, y: Tensor, alpha = 1): Tensor {
  expectSameShape(`${op}_backward`, ['dy', dy], ['y', y]);
  const dx = rt.empty(dy.shape);
  launch(rt, `${op}_backward`, unarySrc, 'backward', UNARY_CODE[op], dy.size, vec4able(dy.size), (w) => [dy.size / w, f32(alpha)], [dy, dx, y]);
  return dx;
}

export const relu = (rt: Runtime, x: Tensor) => unary(rt, 'relu', x);
export const tanh = (rt: Runtime, x: Tensor) => unary(rt, 'tanh', x);
export const sigmoid = (rt: Runtime, x: Tensor) => unary(rt, 'sigmoid', x);
export const scale = (rt: Runtime, x: Tensor, alpha: number) => unary(rt, 'scale', x, alpha);

/**
 * c = a (op) b with b the same shape as a, or equal to a's trailing dimensions (a bias).
 */
export function binary(rt: Runtime, op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  expectDType(op, 'a', a, 'f32');
  expectDType(op, 'b', b, 'f32');
  checkTrailing(op, a, b);
  const c = rt.empty(a.shape);
  const nb = Math.max(1, b.size);
  launch(rt, `${op}_forward`, binarySrc, 'main', BINARY_CODE[op], a.size, vec4able(a.size, b.size), (w) => [a.size / w, nb / w], [a, b, c]);
  return c;
}

function checkTrailing(op: string, a: Tensor, b: Tensor): void {
  const k = b.rank;
  const ok = k <= a.rank && b.shape.every((d, i) => d === a.shape[a.rank - k + i]);
  if (!ok) {
    throw new OpInputError(op, `b of shape [${a.shape.join(', ')}] or a suffix of it`, `[${b.shape.join(', ')}]`);
  }
}

export const add = (rt: Runtime, a: Tensor, b: Tensor) => binary(rt, 'add', a, b);
export const mul = (rt: Runtime, a: Tensor, b: Tensor) => binary(rt, 'mul', a, b);
export const sub = (rt: Runtime, a: Tensor, b: Tensor) => binary(rt, 'sub', a, b);

/**
 * Gradients of c = a (op) b. For a broadcast b, db sums over the broadcast rows.
 * Returns only what is asked for.
 */
export function binaryBackward(
  rt: Runtime,
  op: BinaryOp,
  dc: Tensor,
  a: Tensor,
  b: Tensor,
  need: { a?: boolean; b?: boolean } = { a: true, b: true },
): { da?: Tensor; db?: Tensor } {
  checkTrailing(`${op}_backward`, a, b);
  expectSameShape(`${op}_backward`, ['a', a], ['dc', dc]);
  const out: { da?: Tensor; db?: Tensor } = {};
  if (need.a) {
    if (op === 'mul') out.da = binary(rt, 'mul', dc, b);
    else {
      out.da = rt.empty(dc.shape);
      rt.copy(dc, out.da);
    }
  }
  if (need.b) {
    const rows = b.size === 0 ? 0 : a.size / b.size;
    let g = dc;
    if (op === 'mul') g = binary(rt, 'mul', dc, a);
    else if (op === 'sub') g = scale(rt, dc, -1);
    out.db = sumAxes(rt, g, [rows, b.size, 1]).reshape(b.shape);
    if (g !== dc) g.dispose();
  }
  return out;
}

/**
 * x viewed as [A, B, C] summed over A and C into [B]. With `into`, adds to that tensor
 * (gradient accumulation) and returns it.
 */
export function sumAxes(rt: Runtime, x: Tensor, [A, B, C]: [number, number, number], into?: Tensor): Tensor {
  if (A * B * C !== x.size) throw new OpInputError('sum_axes', `[A, B, C] with A*B*C = ${x.size}`, `[${A}, ${B}, ${C}]`);
  const y = into ?? rt.empty([B]);
  if (into && into.size !== B) throw new OpInputError('sum_axes', `an accumulator of ${B} elements`, `${into.size}`);
  rt.dispatch({
    kernel: { name: 'sum_axes', code: sumAxesSrc, constants: { WG: 64, ACCUMULATE: into ? 1 : 0 } },
    params: [A, B, C],
    bindings: [x, y],
    workgroups: B,
  });
  return y;
}

/** Inverted dropout with a mask derived from (seed, index): see dropout.wgsl. */
export function dropout(rt: Runtime, x: Tensor, p: number, seed: number): Tensor {
  if (!(p >= 0 && p < 1)) throw new OpInputError('dropout', 'p in [0, 1)', String(p));
  const y = rt.empty(x.shape);
  rt.dispatch({
    kernel: { name: 'dropout', code: dropoutSrc, constants: { WG } },
    params: [x.size, seed >>> 0, Math.min(0xffffffff, Math.floor(p * 2 ** 32)), f32(1 / (1 - p))],
    bindings: [x, y],
    workgroups: rt.grid(x.size, WG),
  });
  return y;
}

/** dx = dy * mask * scale with the same mask as the forward pass (same seed). */
export const dropoutBackward = (rt: Runtime, dy: Tensor, p: number, seed: number) => dropout(rt, dy, p, seed);
