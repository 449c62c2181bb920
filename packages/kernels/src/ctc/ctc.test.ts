import { join } from 'node:path';
import { OpInputError, Rng, Runtime, Tensor } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCase, runCase } from '../golden/golden.js';
import { asF32, assertClose, compareClose, dot, finiteDiff, randomArray } from '../testing.js';
import { ctcBeamSearch, ctcPrefixBeamSearch } from './ctc-beam-search.js';
import { ctcGreedyDecode, ctcGreedyDecodeSequences, ctcLoss, ctcLossForward, ctcMinFrames, ctcTuning, readCtcGreedy, type CtcReduction } from './ctc.js';
import { ctcLossGolden } from './ctc.golden.js';
import { ctcAlphaBetaRef, ctcBestLabelingRef, ctcBruteForceNll, ctcGreedyDecodeRef, ctcLossRef, logSoftmaxRef, targetOf } from './ctc.ref.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

const GOLDEN_DIR = process.env.GOLDEN_DIR ?? join(import.meta.dirname, '../../../../../shared/golden');

interface Problem {
  T: number;
  N: number;
  C: number;
  S: number;
  logits: Float64Array;
  targets: Int32Array;
  inputLengths: number[];
  targetLengths: number[];
}

/**
 * A random feasible problem: target lengths in [0, S] (at least one full), labels drawn from
 * few classes so that repeats occur, input lengths between the minimum the target needs and T.
 */
function problem(rng: Rng, T: number, N: number, C: number, S: number, blank = 0, spread = 2): Problem {
  const logits = asF32(randomArray(rng, T * N * C, -spread, spread));
  const targets = new Int32Array(N * S);
  const targetLengths: number[] = [];
  const inputLengths: number[] = [];
  const labels = Array.from({ length: C }, (_, c) => c).filter((c) => c !== blank);
  for (let n = 0; n < N; n++) {
    for (;;) {
      const Sn = n === 0 ? S : rng.int(S + 1);
      // Few distinct labels: repeated adjacent labels are common.
      const pool = labels.slice(0, Math.max(1, Math.min(labels.length, 1 + rng.int(3))));
      for (let k = 0; k < S; k++) targets[n * S + k] = k < Sn ? pool[rng.int(pool.length)]! : 0;
      const need = ctcMinFrames(targetOf(targets, S, n, Sn));
      if (need > T) continue;
      targetLengths.push(Sn);
      inputLengths.push(n === 1 ? T : Math.max(1, need) + rng.int(T - Math.max(1, need) + 1));
      break;
    }
  }
  return { T, N, C, S, logits, targets, inputLengths, targetLengths };
}

const shape = (p: Problem) => [p.T, p.N, p.C] as [number, number, number];

describe('ctc reference', () => {
  it('alpha-beta nll equals the brute force over all alignments (repeats, empty targets, impossible)', () => {
    const rng = new Rng(1);
    const cases: Array<[number, number, number[]]> = [
      [4, 3, [1, 2]],
      [4, 3, [1, 1]],
      [3, 3, [1, 1]], // exactly the minimum: 1 blank 1
      [5, 4, [2, 2, 3]],
      [5, 3, []],
      [1, 3, [2]],
      [2, 3, [1, 1]], // impossible: needs 3 frames
      [6, 3, [1, 2, 1]],
    ];
    for (const [T, C, target] of cases) {
      for (const blank of [0, C - 1]) {
        const tgt = target.map((v) => (blank === 0 ? v : v - 1));
        const lp = logSoftmaxRef(randomArray(rng, T * C, -2, 2), T, C);
        const at = (t: number, c: number) => lp[t * C + c]!;
        const { nll, alpha, beta } = ctcAlphaBetaRef(at, T, tgt, blank);
        const bf = ctcBruteForceNll(at, T, C, tgt, blank);
        if (bf === Infinity) expect(nll, `T${T} [${tgt}] impossible`).toBe(Infinity);
        else expect(Math.abs(nll - bf), `T${T} [${tgt}] blank ${blank}: ${nll} vs ${bf}`).toBeLessThan(1e-12 * Math.max(1, bf));
        // sum_s alpha beta / y at any frame is p(target): the recursions agree with each other.
        if (bf !== Infinity) {
          for (let t = 0; t < T; t++) {
            let p = 0;
            for (let s = 0; s < 2 * tgt.length + 1; s++) {
              const c = s % 2 === 0 ? blank : tgt[(s - 1) / 2]!;
              p += Math.exp(alpha[t]![s]! + beta[t]![s]! - at(t, c));
            }
            expect(Math.abs(-Math.log(p) - bf)).toBeLessThan(1e-10);
          }
        }
      }
    }
  });

  it('gradient equals finite differences of the loss, every reduction, with upstream gradients', () => {
    const rng = new Rng(2);
    for (const reduction of ['mean', 'sum', 'none'] as CtcReduction[]) {
      for (const blank of [0, 2]) {
        const p = problem(rng, 5, 3, 4, 3, blank);
        const up = reduction === 'none' ? Array.from({ length: p.N }, () => rng.uniform(-1, 2)) : 0.7;
        const o = { blank, reduction, gradOutput: up };
        const ref = ctcLossRef(p.logits, shape(p), p.targets, p.S, p.inputLengths, p.targetLengths, o);
        const f = (x: Float64Array) => {
          const l = ctcLossRef(x, shape(p), p.targets, p.S, p.inputLengths, p.targetLengths, o).loss;
          return typeof up === 'number' ? l[0]! * up : dot(l, up);
        };
        const fd = finiteDiff(f, Float64Array.from(p.logits));
        assertClose(ref.grad, fd, { rtol: 1e-6, atol: 1e-8 }, `ref grad vs fd (${reduction}, blank ${blank})`);
      }
    }
  });
});

describe('ctc_loss on the GPU', () => {
  const TOL = { rtol: 1e-4, atol: 1e-5 };

  it('matches the float64 reference over shapes, reductions, blanks and variable lengths', async () => {
    const rng = new Rng(3);
    const shapes: Array<[number, number, number, number]> = [
      [1, 1, 2, 0],
      [1, 1, 2, 1],
      [6, 2, 3, 2],
      [12, 4, 6, 5],
      [30, 5, 11, 9],
      [50, 3, 7, 40], // 2S+1 = 81 > 64 invocations: positions loop
      [20, 70, 5, 3], // more samples than one workgroup's invocations (reduction loops)
    ];
    for (const [T, N, C, S] of shapes) {
      for (const reduction of ['mean', 'sum', 'none'] as CtcReduction[]) {
        const blank = reduction === 'sum' ? C - 1 : 0;
        const p = problem(rng, T, N, C, S, blank);
        const up = reduction === 'none' ? Array.from({ length: N }, () => rng.uniform(-1, 2)) : 1.5;
        const o = { blank, reduction, gradOutput: up };
        const label = `T${T} N${N} C${C} S${S} ${reduction} blank ${blank}`;
        // Host targets on even sweeps, a tensor on odd ones: both paths give the same result.
        const tgt = (T + S) % 2 === 0 ? p.targets : rt.upload(p.targets, [N, S], 'i32');
        const x = rt.upload(p.logits, [T, N, C]);
        const r = ctcLoss(rt, x, tgt, p.inputLengths, p.targetLengths, o);
        expect(r.loss.shape).toEqual(reduction === 'none' ? [N] : []);
        expect(r.grad.shape).toEqual([T, N, C]);
        const [loss, nll, grad] = await rt.readMany([r.loss, r.nll, r.grad]);
        const ref = ctcLossRef(p.logits, shape(p), p.targets, S, p.inputLengths, p.targetLengths, o);
        assertClose(nll!, ref.nll, TOL, `${label} nll`);
        assertClose(loss!, ref.loss, TOL, `${label} loss`);
        assertClose(grad!, ref.grad, TOL, `${label} grad`);
        for (const t of [x, r.loss, r.nll, r.grad]) t.dispose();
        if (tgt instanceof Tensor) tgt.dispose();
      }
    }
  });

  it('per-row kernels: one invocation per row (software adapters) gives the bits of a workgroup per row', async () => {
    const rng = new Rng(13);
    // C > 64 and 2S + 1 > 64 (the lanes' strided loops), a NaN, an infeasible sample under
    // zeroInfinity (zero gradient rows), frames past a short input.
    for (const [T, N, C, S] of [[12, 4, 6, 5], [9, 3, 100, 4], [50, 2, 7, 40]] as Array<[number, number, number, number]>) {
      const p = problem(rng, T, N, C, S);
      p.logits[(1 * N + 0) * C + 2] = NaN;
      p.inputLengths[N - 1] = 1;
      p.targetLengths[N - 1] = Math.min(S, 2);
      const x = rt.upload(p.logits, [T, N, C]);
      const run = async (serial: boolean) => {
        ctcTuning.serialRows = serial;
        try {
          const r = ctcLoss(rt, x, p.targets, p.inputLengths, p.targetLengths, { reduction: 'none', zeroInfinity: true });
          const out = (await rt.readMany([r.loss, r.nll, r.grad])).map((a) => Array.from(a));
          for (const t of [r.loss, r.nll, r.grad]) t.dispose();
          return out;
        } finally {
          ctcTuning.serialRows = null;
        }
      };
      const [a, b] = [await run(false), await run(true)];
      ['loss', 'nll', 'grad'].forEach((name, k) => {
        const i = a[k]!.findIndex((v, j) => !Object.is(v, b[k]![j]));
        expect(i, `T${T} N${N} C${C} S${S} ${name}: index ${i}, serial ${b[k]![i]}, workgroup ${a[k]![i]}`).toBe(-1);
      });
      expect(a[2]!.some(Number.isNaN) && a[2]!.some((v) => v !== 0 && Number.isFinite(v))).toBe(true);
      x.dispose();
    }
  });

  it('ctcLossForward gives the same loss without a gradient', async () => {
    const p = problem(new Rng(4), 9, 3, 5, 4);
    const x = rt.upload(p.logits, [9, 3, 5]);
    const r = ctcLossForward(rt, x, p.targets, p.inputLengths, p.targetLengths, { reduction: 'none' });
    expect('grad' in r).toBe(false);
    const ref = ctcLossRef(p.logits, shape(p), p.targets, p.S, p.inputLengths, p.targetLengths, { reduction: 'none' });
    assertClose(await rt.read(r.loss), ref.loss, TOL, 'forward-only loss');
  });

  it('gradient matches finite differences (of the reference, and of the GPU loss itself)', async () => {
    const rng = new Rng(5);
    for (const reduction of ['mean', 'none'] as CtcReduction[]) {
      const p = problem(rng, 4, 2, 3, 2, 0, 1);
      const up = reduction === 'none' ? [0.5, -1.25] : 1;
      const o = { reduction, gradOutput: up };
      const x = rt.upload(p.logits, [p.T, p.N, p.C]);
      const r = ctcLoss(rt, x, p.targets, p.inputLengths, p.targetLengths, o);
      const grad = await rt.read(r.grad);
      const f = (v: Float64Array) => {
        const l = ctcLossRef(v, shape(p), p.targets, p.S, p.inputLengths, p.targetLengths, o).loss;
        return typeof up === 'number' ? l[0]! : dot(l, up);
      };
      assertClose(grad, finiteDiff(f, Float64Array.from(p.logits)), { rtol: 1e-3, atol: 1e-5 }, `gpu grad vs ref fd (${reduction})`);
      // Central differences of the GPU's own f32 loss (eps 1e-2: f32 rounding stays ~1e-5).
      const eps = 1e-2;
      const fd = new Float64Array(p.logits.length);
      for (let i = 0; i < p.logits.length; i++) {
        const vals: number[] = [];
        for (const d of [eps, -eps]) {
          const xs = Float32Array.from(p.logits);
          xs[i] = xs[i]! + d;
          const xt = rt.upload(xs, [p.T, p.N, p.C]);
          const l = await rt.read(ctcLossForward(rt, xt, p.targets, p.inputLengths, p.targetLengths, { reduction }).loss);
          xt.dispose();
          vals.push(typeof up === 'number' ? l[0]! : dot(l, up));
        }
        fd[i] = (vals[0]! - vals[1]!) / (2 * eps);
      }
      assertClose(grad, fd, { rtol: 2e-2, atol: 5e-4 }, `gpu grad vs gpu fd (${reduction})`);
    }
  });

  it('handles repeated labels at the minimum input length and zero-length targets', async () => {
    const rng = new Rng(6);
    const C = 4;
    // [1 1] needs 3 frames, [2 2 2] needs 5, [] needs 1 (all blank), [3 1 3] needs 3.
    const rows = [[1, 1, 0], [2, 2, 2], [0, 0, 0], [3, 1, 3]];
    const targetLengths = [2, 3, 0, 3];
    const inputLengths = [3, 5, 1, 3];
    const N = rows.length;
    const T = 5;
    const targets = Int32Array.from(rows.flat());
    const logits = asF32(randomArray(rng, T * N * C, -2, 2));
    const x = rt.upload(logits, [T, N, C]);
    const r = ctcLoss(rt, x, targets, inputLengths, targetLengths, { reduction: 'none' });
    const [nll, grad] = await rt.readMany([r.nll, r.grad]);
    const lp = logSoftmaxRef(logits, T * N, C);
    for (let n = 0; n < N; n++) {
      const at = (t: number, c: number) => lp[(t * N + n) * C + c]!;
      const bf = ctcBruteForceNll(at, inputLengths[n]!, C, targetOf(targets, 3, n, targetLengths[n]!), 0);
      expect(Math.abs(nll![n]! - bf), `sample ${n}: ${nll![n]} vs brute force ${bf}`).toBeLessThan(1e-4 * Math.max(1, bf));
    }
    const ref = ctcLossRef(logits, [T, N, C], targets, 3, inputLengths, targetLengths, { reduction: 'none' });
    assertClose(grad!, ref.grad, TOL, 'grad');
    // Frames past a sample's input length get exactly 0.
    for (let n = 0; n < N; n++) {
      for (let t = inputLengths[n]!; t < T; t++) for (let c = 0; c < C; c++) expect(grad![(t * N + n) * C + c]).toBe(0);
    }
  });

  it('impossible alignments: an error naming the sample before any dispatch, or 0 with zeroInfinity', async () => {
    const T = 4;
    const [N, C, S] = [3, 3, 3];
    const logits = asF32(randomArray(new Rng(7), T * N * C));
    const x = rt.upload(logits, [T, N, C]);
    // Sample 1: [1 1 1] needs 5 frames but has 4.
    const targets = Int32Array.from([1, 2, 0, 1, 1, 1, 2, 0, 0]);
    const targetLengths = [2, 3, 1];
    const inputLengths = [4, 4, 2];
    await rt.sync();
    const before = rt.stats().dispatches;
    expect(() => ctcLoss(rt, x, targets, inputLengths, targetLengths)).toThrow(OpInputError);
    expect(() => ctcLoss(rt, x, targets, inputLengths, targetLengths)).toThrow(/ctc_loss: expected input_lengths\[1\] >= 5 for sample 1/);
    expect(rt.stats().dispatches).toBe(before);

    for (const reduction of ['none', 'mean'] as CtcReduction[]) {
      const o = { reduction, zeroInfinity: true };
      const r = ctcLoss(rt, x, targets, inputLengths, targetLengths, o);
      const [loss, nll, grad] = await rt.readMany([r.loss, r.nll, r.grad]);
      expect(nll![1]).toBe(Infinity);
      const ref = ctcLossRef(logits, [T, N, C], targets, S, inputLengths, targetLengths, o);
      if (reduction === 'none') expect(loss![1]).toBe(0);
      assertClose(loss!, ref.loss, TOL, `zero_infinity ${reduction} loss`);
      assertClose(grad!, ref.grad, TOL, `zero_infinity ${reduction} grad`);
      for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) expect(grad![(t * N + 1) * C + c]).toBe(0);
    }

    // Target tensors cannot be checked on the host: the loss is +inf (PyTorch's value), the
    // impossible sample's gradient 0, and the others unaffected.
    const tt = rt.upload(targets, [N, S], 'i32');
    const r = ctcLoss(rt, x, tt, inputLengths, targetLengths, { reduction: 'sum' });
    const [loss, nll, grad] = await rt.readMany([r.loss, r.nll, r.grad]);
    expect(loss![0]).toBe(Infinity);
    expect(nll![1]).toBe(Infinity);
    expect(Number.isFinite(nll![0]!) && Number.isFinite(nll![2]!)).toBe(true);
    expect(grad!.every((v) => Number.isFinite(v))).toBe(true);
    const ref = ctcLossRef(logits, [T, N, C], targets, S, inputLengths, targetLengths, { reduction: 'sum' });
    assertClose(grad!, ref.grad, TOL, 'tensor targets grad');
  });

  it('is stable at T = 512 and C = 1000 (log space throughout)', async () => {
    const rng = new Rng(8);
    const [T, N, C, S] = [512, 2, 1000, 60];
    // Logits in [-6, 6]: each frame's label probability is ~1e-3, so p(target) is ~1e-1500,
    // far below what f32 (or f64) could hold outside log space.
    const p = problem(rng, T, N, C, S, 0, 6);
    p.inputLengths[0] = T;
    const x = rt.upload(p.logits, [T, N, C]);
    const r = ctcLoss(rt, x, p.targets, p.inputLengths, p.targetLengths, { reduction: 'sum' });
    const [loss, nll, grad] = await rt.readMany([r.loss, r.nll, r.grad]);
    expect(Number.isFinite(loss![0]!) && loss![0]! > 1000).toBe(true);
    expect(grad!.every((v) => Number.isFinite(v))).toBe(true);
    const ref = ctcLossRef(p.logits, [T, N, C], p.targets, S, p.inputLengths, p.targetLengths, { reduction: 'sum' });
    assertClose(nll!, ref.nll, { rtol: 1e-5, atol: 1e-3 }, 'T512 C1000 nll');
    assertClose(loss!, ref.loss, { rtol: 1e-5, atol: 1e-3 }, 'T512 C1000 loss');
    assertClose(grad!, ref.grad, { rtol: 1e-3, atol: 2e-5 }, 'T512 C1000 grad');
  }, 60_000);

  it('NaN logits propagate to that sample\'s loss and gradient and never hang', async () => {
    const p = problem(new Rng(9), 6, 3, 4, 2);
    p.logits[(2 * 3 + 1) * 4 + 2] = NaN; // t = 2, n = 1
    const x = rt.upload(p.logits, [6, 3, 4]);
    const r = ctcLoss(rt, x, p.targets, p.inputLengths, p.targetLengths, { reduction: 'none' });
    const [loss, grad] = await rt.readMany([r.loss, r.grad]);
    expect(Number.isNaN(loss![1])).toBe(p.inputLengths[1]! > 2);
    expect(Number.isFinite(loss![0]!) && Number.isFinite(loss![2]!)).toBe(true);
    expect(Number.isNaN(grad![(0 * 3 + 1) * 4])).toBe(true);
    const mean = await rt.read(ctcLoss(rt, x, p.targets, p.inputLengths, p.targetLengths).loss);
    expect(Number.isNaN(mean[0])).toBe(true);
  });

  it('rejects hostile inputs with an OpInputError naming the op, before any dispatch', async () => {
    const x = rt.zeros([5, 2, 4]);
    const tg = [1, 2, 3, 1];
    const il = [5, 5];
    const tl = [2, 2];
    await rt.sync();
    const before = rt.stats().dispatches;
    const bad: Array<[() => unknown, RegExp]> = [
      [() => ctcLoss(rt, rt.zeros([5, 8]), tg, il, tl), /logits of rank 3/],
      [() => ctcLoss(rt, rt.zeros([5, 2, 4], 'i32'), tg, il, tl), /logits of dtype f32/],
      [() => ctcLoss(rt, rt.zeros([0, 2, 4]), tg, il, tl), /logits with at least one element/],
      [() => ctcLoss(rt, x, [1, 2, 3], il, tl), /host targets of N \* S values/],
      [() => ctcLoss(rt, x, rt.zeros([3, 2], 'i32'), il, tl), /targets of shape \[2, S\]/],
      [() => ctcLoss(rt, x, rt.zeros([2, 2]), il, tl), /targets of dtype i32/],
      [() => ctcLoss(rt, x, rt.zeros([4], 'i32'), il, tl), /targets of rank 2/],
      [() => ctcLoss(rt, x, tg, [5], tl), /input_lengths of 2 values/],
      [() => ctcLoss(rt, x, tg, [5, 6], tl), /input_lengths\[1\] an integer in \[1, 5\]/],
      [() => ctcLoss(rt, x, tg, [0, 5], tl), /input_lengths\[0\] an integer in \[1, 5\]/],
      [() => ctcLoss(rt, x, tg, [2.5, 5], tl), /input_lengths\[0\]/],
      [() => ctcLoss(rt, x, tg, il, [2, 3]), /target_lengths\[1\] an integer in \[0, 2\]/],
      [() => ctcLoss(rt, x, tg, il, [-1, 2]), /target_lengths\[0\]/],
      [() => ctcLoss(rt, x, tg, il, [2, 2, 2]), /target_lengths of 2 values/],
      [() => ctcLoss(rt, x, [1, 4, 3, 1], il, tl), /targets\[0\]\[1\] a class in \[0, 4\) other than the blank 0/],
      [() => ctcLoss(rt, x, [1, 0, 3, 1], il, tl), /targets\[0\]\[1\]/],
      [() => ctcLoss(rt, x, [1, 2, 3, 1], il, tl, { blank: 3 }), /targets\[1\]\[0\] a class in \[0, 4\) other than the blank 3/],
      [() => ctcLoss(rt, x, tg, il, tl, { blank: 4 }), /blank an integer in \[0, 4\)/],
      [() => ctcLoss(rt, x, tg, il, tl, { reduction: 'avg' as CtcReduction }), /reduction 'mean', 'sum' or 'none'/],
      [() => ctcLoss(rt, x, tg, il, tl, { gradOutput: [1, 2] }), /a scalar gradOutput for reduction 'mean'/],
      [() => ctcLoss(rt, x, tg, il, tl, { reduction: 'none', gradOutput: [1] }), /gradOutput of 2 values/],
    ];
    for (const [f, msg] of bad) {
      expect(f).toThrow(OpInputError);
      expect(f).toThrow(new RegExp(`^ctc_loss: expected .*${msg.source}`));
    }
    x.dispose();
    expect(() => ctcLoss(rt, x, tg, il, tl)).toThrow(/ctc_loss: expected a live tensor/);
    await rt.sync();
    expect(rt.stats().dispatches).toBe(before);
  });

  it('passes the PyTorch golden cases', async () => {
    for (const i of [0, 1, 2]) {
      const r = await runCase(rt, loadCase(join(GOLDEN_DIR, `ctc_loss_dev_${i}.json`)), { ctc_loss: ctcLossGolden });
      expect(r.ok, `${r.file}: ${r.message}`).toBe(true);
    }
  });
});

describe('ctc greedy decode on the GPU', () => {
  it('matches the reference over shapes, lengths and blanks', async () => {
    const rng = new Rng(10);
    for (const [T, N, C] of [[1, 1, 2], [7, 3, 4], [70, 5, 6], [24, 8, 37], [130, 2, 1000]] as Array<[number, number, number]>) {
      for (const blank of [0, C - 1]) {
        for (const withLengths of [false, true]) {
          // Few classes and integer-ish scores: long runs of repeats and blanks.
          const x = Float32Array.from({ length: T * N * C }, () => Math.round(rng.uniform(-3, 3)) + rng.uniform(0, 1e-3));
          const lens = withLengths ? Array.from({ length: N }, (_, n) => (n === 0 ? 0 : rng.int(T + 1))) : undefined;
          const t = rt.upload(x, [T, N, C]);
          const d = ctcGreedyDecode(rt, t, lens, blank);
          expect(d.tokens.shape).toEqual([N, T]);
          const [tok] = await rt.readMany([d.tokens]);
          const got = await readCtcGreedy(rt, d);
          const want = ctcGreedyDecodeRef(x, [T, N, C], lens, blank);
          expect(got, `T${T} N${N} C${C} blank ${blank}`).toEqual(want);
          for (let n = 0; n < N; n++) for (let k = want[n]!.length; k < T; k++) expect(tok![n * T + k]).toBe(-1);
          for (const u of [t, d.tokens, d.lengths]) u.dispose();
        }
      }
    }
  });

  it('NaN scores never hang (a NaN counts as the maximum)', async () => {
    const x = rt.upload([0, 1, 0, NaN, 2, 0, NaN, NaN, NaN], [3, 1, 3]);
    expect(await ctcGreedyDecodeSequences(rt, x)).toEqual([[1]]);
    const y = rt.upload([5, 1, 0, 0, NaN, 2, 0, 3, NaN], [3, 1, 3]);
    expect(await ctcGreedyDecodeSequences(rt, y)).toEqual([[1, 2]]);
  });

  it('rejects hostile inputs before any dispatch', async () => {
    await rt.sync();
    const before = rt.stats().dispatches;
    const x = rt.zeros([4, 2, 3]);
    const bad: Array<[() => unknown, RegExp]> = [
      [() => ctcGreedyDecode(rt, rt.zeros([4, 3])), /scores of rank 3/],
      [() => ctcGreedyDecode(rt, rt.zeros([4, 2, 3], 'i32')), /scores of dtype f32/],
      [() => ctcGreedyDecode(rt, rt.zeros([4, 0, 3])), /scores with at least one element/],
      [() => ctcGreedyDecode(rt, x, [4]), /input_lengths of 2 values/],
      [() => ctcGreedyDecode(rt, x, [4, 5]), /input_lengths\[1\] an integer in \[0, 4\]/],
      [() => ctcGreedyDecode(rt, x, [4, -1]), /input_lengths\[1\]/],
      [() => ctcGreedyDecode(rt, x, undefined, 3), /blank an integer in \[0, 3\)/],
    ];
    for (const [f, msg] of bad) expect(f).toThrow(new RegExp(`^ctc_greedy_decode: expected .*${msg.source}`));
    await rt.sync();
    expect(rt.stats().dispatches).toBe(before);
  });
});

describe('ctc beam search (CPU)', () => {
  it('a wide beam finds the brute-force most probable labeling', () => {
    const rng = new Rng(11);
    for (const [T, C] of [[1, 3], [3, 3], [4, 3], [5, 4], [6, 3]] as Array<[number, number]>) {
      for (const blank of [0, C - 1]) {
        for (let rep = 0; rep < 4; rep++) {
          // Flat-ish distributions, where the best labeling often differs from the best path.
          const probs = Float64Array.from(logSoftmaxRef(randomArray(rng, T * C, -1, 1), T, C), Math.exp);
          const [got] = ctcBeamSearch(probs, [T, 1, C], { beamWidth: 200, blank });
          const want = ctcBestLabelingRef((t, c) => Math.log(probs[t * C + c]!), T, C, blank);
          expect(got!.sequence, `T${T} C${C} blank ${blank} rep ${rep}`).toEqual(want.sequence);
          expect(Math.abs(got!.logProb - want.logProb)).toBeLessThan(1e-9);
          // Every beam's logProb is the exact -nll of its labeling.
          for (const b of ctcPrefixBeamSearch((t, c) => Math.log(probs[t * C + c]!), T, C, 200, blank).slice(0, 5)) {
            expect(Math.abs(-b.logProb - ctcBruteForceNll((t, c) => Math.log(probs[t * C + c]!), T, C, b.sequence, blank))).toBeLessThan(1e-9);
          }
        }
      }
    }
  });

  it('beam 1 agrees with greedy decoding on peaked distributions; logits and log-probs inputs agree', async () => {
    const rng = new Rng(12);
    const [T, N, C] = [20, 4, 6];
    // Each frame puts most of its mass on one class (runs of repeats and blanks included).
    const logits = new Float32Array(T * N * C);
    for (let r = 0; r < T * N; r++) {
      const hot = rng.int(3) === 0 ? 0 : rng.int(C);
      for (let c = 0; c < C; c++) logits[r * C + c] = (c === hot ? 8 : 0) + rng.uniform(-0.5, 0.5);
    }
    const lens = [20, 13, 1, 7];
    const probs = Float64Array.from(logSoftmaxRef(logits, T * N, C), Math.exp);
    const beam1 = ctcBeamSearch(probs, [T, N, C], { beamWidth: 1, inputLengths: lens });
    const gpu = await ctcGreedyDecodeSequences(rt, rt.upload(logits, [T, N, C]), lens);
    expect(beam1.map((b) => b.sequence)).toEqual(gpu);
    expect(beam1.map((b) => b.sequence)).toEqual(ctcGreedyDecodeRef(logits, [T, N, C], lens, 0));
    const fromLogits = ctcBeamSearch(logits, [T, N, C], { beamWidth: 5, inputLengths: lens, inputKind: 'logits' });
    const fromLogProbs = ctcBeamSearch(logSoftmaxRef(logits, T * N, C), [T, N, C], { beamWidth: 5, inputLengths: lens, inputKind: 'logProbs' });
    const fromProbs = ctcBeamSearch(probs, [T, N, C], { beamWidth: 5, inputLengths: lens });
    for (let n = 0; n < N; n++) {
      expect(fromLogits[n]!.sequence).toEqual(fromProbs[n]!.sequence);
      expect(fromLogProbs[n]!.sequence).toEqual(fromProbs[n]!.sequence);
      expect(compareClose([fromLogits[n]!.logProb, fromLogProbs[n]!.logProb], [fromProbs[n]!.logProb, fromProbs[n]!.logProb], { rtol: 1e-9, atol: 1e-9 }).ok).toBe(true);
    }
  });

  it('NaN scores do not stall the search; hostile inputs throw', () => {
    const probs = [0.5, 0.5, NaN, NaN, 0.1, 0.9];
    const [b] = ctcBeamSearch(probs, [3, 1, 2], { beamWidth: 3 });
    expect(Number.isNaN(b!.logProb)).toBe(true);
    const op = /^ctc_beam_search: expected /;
    expect(() => ctcBeamSearch([1, 2], [1, 1, 3])).toThrow(op);
    expect(() => ctcBeamSearch([1, 2], [1, 0, 2])).toThrow(op);
    expect(() => ctcBeamSearch([1, 2], [1, 1, 2], { beamWidth: 0 })).toThrow(/beamWidth a positive integer/);
    expect(() => ctcBeamSearch([1, 2], [1, 1, 2], { blank: 2 })).toThrow(/blank in \[0, 2\)/);
    expect(() => ctcBeamSearch([1, 2], [1, 1, 2], { inputLengths: [2] })).toThrow(/input_lengths\[0\] in \[0, 1\]/);
    expect(() => ctcBeamSearch([1, 2], [1, 1, 2], { inputLengths: [1, 1] })).toThrow(OpInputError);
  });
});
