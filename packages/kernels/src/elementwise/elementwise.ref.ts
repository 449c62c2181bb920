// Float64 CPU references for the elementwise ops.
import type { BinaryOp, UnaryOp } from './elementwise.js';

export function unaryRef(op: UnaryOp, x: ArrayLike<number>, alpha = 1): Float64Array {
  return Float64Array.from(x, (v) => {
    switch (op) {
      case 'relu':
        return Number.isNaN(v) ? v : v > 0 ? v : 0;
      case 'tanh':
        return Math.tanh(v);
      case 'sigmoid':
        return 1 / (1 + Math.exp(-v));
      default:
        return alpha * v;
    }
  });
}

export function unaryBackwardRef(op: UnaryOp, dy: ArrayLike<number>, y: ArrayLike<number>, alpha = 1): Float64Array {
  return Float64Array.from(dy, (g, i) => {
    const t = y[i]!;
    switch (op) {
      case 'relu':
        return t > 0 ? g : 0;
      case 'tanh':
        return g * (1 - t * t);
      case 'sigmoid':
        return g * t * (1 - t);
      default:
        return alpha * g;
    }
  });
}

export function binaryRef(op: BinaryOp, a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from(a, (u, i) => {
    const v = b[i % b.length]!;
    return op === 'add' ? u + v : op === 'mul' ? u * v : u - v;
  });
}

export function sumAxesRef(x: ArrayLike<number>, [A, B, C]: [number, number, number]): Float64Array {
  const y = new Float64Array(B);
  for (let a = 0; a < A; a++) for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) y[b]! += x[(a * B + b) * C + c]!;
  return y;
}

function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The mask dropout.wgsl draws: true where element i is kept. */
export function dropoutMaskRef(n: number, p: number, seed: number): boolean[] {
  const threshold = Math.min(0xffffffff, Math.floor(p * 2 ** 32));
  return Array.from({ length: n }, (_, i) => pcgHash((pcgHash(i) ^ seed) >>> 0) >= threshold);
}
