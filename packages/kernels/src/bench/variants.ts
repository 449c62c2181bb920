/**
 * Every kernel variant that can run each benchmark shape (conv2d per part, matmul, sum_axes,
 * LSTM, GRU), with the one 'auto' picks on this adapter marked, and their GPU time: the data
 * for choosing variants by adapter (run-variants.ts is the command line). The tuned choices in
 * conv2d.ts, matmul.ts, elementwise.ts and recurrent.ts were first measured on lavapipe; a
 * real GPU can prefer others.
 */
import type { Runtime, Tensor } from '@crnn/core';
import { SHAPES as CONV_SHAPES, random } from '../conv2d/conv2d.bench.js';
import { conv2d, conv2dBackward, conv2dKernelFor, type Conv2dKernel } from '../conv2d/conv2d.js';
import { sumAxes, sumAxesPlan } from '../elementwise/elementwise.js';
import { GRU_CELL } from '../gru/gru.js';
import { LSTM_CELL } from '../lstm/lstm.js';
import { hasWideSubgroups, matmul, matmulVariants } from '../matmul/matmul.js';
import { recurrentBackward, recurrentForward, type CellSpec, type RecurrentVariant } from '../recurrent/recurrent.js';
import { setupOurs } from '../recurrent/rnn-bench.js';

export interface VariantCase {
  group: string;
  shape: string;
  variant: string;
  auto: boolean;
  flops: number;
  setup(rt: Runtime): { run(): void; dispose(): void };
}

const CONV_KERNELS: Conv2dKernel[] = ['fast', 'direct', 'gemm', 'winograd', 'winograd-x'];
const N = 8;

function convCases(rt: Runtime): VariantCase[] {
  const cases: VariantCase[] = [];
  for (const [c, o, h, w, k, p] of CONV_SHAPES) {
    const x0 = rt.zeros([N, c, h, w]);
    const w0 = rt.zeros([o, c, k, k]);
    const oh = h + 2 * p - k + 1;
    const ow = w + 2 * p - k + 1;
    const flops = 2 * N * o * oh * ow * c * k * k;
    const parts = (c > 1 ? ['forward', 'dx', 'dw'] : ['forward', 'dw']) as Array<'forward' | 'dx' | 'dw'>;
    for (const part of parts) {
      const auto = conv2dKernelFor(rt, x0, w0, { padding: p }, part);
      for (const kernel of CONV_KERNELS) {
        try {
          conv2dKernelFor(rt, x0, w0, { padding: p, kernel }, part);
        } catch {
          continue; // this variant does not cover the shape
        }
        cases.push({
          group: `conv2d ${part}`,
          shape: `N${N} C${c}->${o} ${h}x${w} k${k}x${k} p${p}`,
          variant: kernel,
          auto: kernel === auto,
          flops,
          setup(rt) {
            const x = random(rt, [N, c, h, w], 1);
            const wt = random(rt, [o, c, k, k], 2, 1 / Math.sqrt(c * k * k));
            const b = random(rt, [o], 3);
            const dy = random(rt, [N, o, oh, ow], 4);
            let out: Tensor[] = [];
            const opts = { padding: p, kernel };
            return {
              run() {
                for (const t of out) t.dispose();
                if (part === 'forward') out = [conv2d(rt, x, wt, b, opts)];
                else {
                  const g = conv2dBackward(rt, dy, x, wt, opts, { x: part === 'dx', w: part === 'dw', b: false });
                  out = [g.dx, g.dw].filter((t): t is Tensor => !!t);
                }
              },
              dispose() {
                for (const t of [...out, x, wt, b, dy]) t.dispose();
              },
            };
          },
        });
      }
    }
    x0.dispose();
    w0.dispose();
  }
  return cases;
}

// [M, K, N, transA, transB]: the 1024³ bench and the CRNN's linear layers at T 24, N 8.
const MATMUL_SHAPES: Array<[number, number, number, boolean, boolean]> = [
  [1024, 1024, 1024, false, false],
  [1024, 1024, 1024, true, false],
  [1024, 1024, 1024, false, true],
  [192, 512, 2048, false, true],
  [192, 512, 37, false, true],
  [2048, 192, 512, true, false],
];

function matmulCases(rt: Runtime): VariantCase[] {
  const cases: VariantCase[] = [];
  for (const [m, k, n, ta, tb] of MATMUL_SHAPES) {
    for (const variant of ['auto' as const, ...matmulVariants(rt)]) {
      cases.push({
        group: 'matmul',
        shape: `${m}x${k}x${n}${ta ? ' Aᵀ' : ''}${tb ? ' Bᵀ' : ''}`,
        variant,
        auto: variant === 'auto',
        flops: 2 * m * n * k,
        setup(rt) {
          const a = random(rt, ta ? [k, m] : [m, k], 1);
          const b = random(rt, tb ? [n, k] : [k, n], 2);
          let c: Tensor | null = null;
          return {
            run() {
              c?.dispose();
              c = matmul(rt, a, b, { transA: ta, transB: tb, variant });
            },
            dispose() {
              for (const t of [c, a, b]) t?.dispose();
            },
          };
        },
      });
    }
  }
  return cases;
}

// [A, B, C] of the CRNN's bias gradients (sum over A and C): add's bench ([8, 64, 32, 100] +
// bias [100]), conv db ([N, O, OH*OW] per layer), linear db ([T*N, out, 1]).
const SUM_SHAPES: Array<[number, number, number]> = [
  [16384, 100, 1],
  [8, 64, 3200],
  [8, 128, 800],
  [8, 256, 200],
  [8, 512, 100],
  [8, 512, 50],
  [192, 1024, 1],
  [192, 37, 1],
];

function sumAxesCases(rt: Runtime): VariantCase[] {
  return SUM_SHAPES.flatMap(([A, B, C]) => {
    const auto = sumAxesPlan(rt, [A, B, C], 'auto') ? 'split' : 'single';
    return (['single', 'split'] as const)
      .filter((v) => v === 'single' || sumAxesPlan(rt, [A, B, C], v) !== null)
      .map((variant) => ({
        group: 'sum_axes',
        shape: `[${A}, ${B}, ${C}]`,
        variant,
        auto: variant === auto,
        flops: 0,
        setup(rt: Runtime) {
          const x = random(rt, [A * B * C], 1);
          let y: Tensor | null = null;
          return {
            run() {
              y?.dispose();
              y = sumAxes(rt, x, [A, B, C], undefined, variant);
            },
            dispose() {
              for (const t of [y, x]) t?.dispose();
            },
          };
        },
      }));
  });
}

/** The 2-layer bidirectional LSTM and GRU of the benches (rnn-bench.ts, its inputs), forward + backward. */
function rnnCases(rt: Runtime, cell: CellSpec): VariantCase[] {
  const variants: RecurrentVariant[] = ['auto', 'generic', ...(hasWideSubgroups(rt) ? (['subgroup'] as const) : [])];
  return variants.map((variant) => ({
    group: `${cell.op} forward+backward`,
    shape: 'T24 N8 I512 H256 layers2 bidir',
    variant,
    auto: variant === 'auto',
    flops: 0,
    setup(rt) {
      const s = setupOurs(rt, cell.gates);
      let out: Tensor[] = [];
      const o = { hiddenSize: 256, numLayers: 2, bidirectional: true, training: true, variant };
      return {
        run() {
          for (const t of out) t.dispose();
          const r = recurrentForward(rt, cell, s.x, s.params, o);
          const g = recurrentBackward(rt, cell, s.dy, r.saved);
          out = [r.y, r.hN, ...(r.cN ? [r.cN] : []), g.dx, ...Object.values(g.grads)];
        },
        dispose() {
          for (const t of [...out, s.x, s.dy, ...Object.values(s.params)]) t.dispose();
        },
      };
    },
  }));
}

/** The cases on this adapter, in table order: conv2d, matmul, sum_axes, LSTM, GRU. */
export function variantCases(rt: Runtime): VariantCase[] {
  return [...convCases(rt), ...matmulCases(rt), ...sumAxesCases(rt), ...rnnCases(rt, LSTM_CELL), ...rnnCases(rt, GRU_CELL)];
}

/** Median GPU ms of `reps` timestamped runs after 3 unmeasured ones; null without timestamp queries. */
export async function timeCase(rt: Runtime, c: VariantCase, reps: number): Promise<number | null> {
  const s = c.setup(rt);
  try {
    for (let i = 0; i < 3; i++) await rt.timed(() => s.run());
    const t: number[] = [];
    for (let i = 0; i < reps; i++) {
      const ns = await rt.timed(() => s.run());
      if (ns === null) return null;
      t.push(ns / 1e6);
    }
    t.sort((a, b) => a - b);
    return t[t.length >> 1]!;
  } finally {
    s.dispose();
  }
}
