import { OpInputError, Rng, Runtime, type Tensor } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasWideSubgroups } from '../recurrent/recurrent.js';
import {
  compareResults,
  gpuRun,
  makeData,
  refRun,
  type Case,
  type RnnApi,
} from '../recurrent/rnn-testing.js';
import { lstm, lstmBackward, paramNames } from './lstm.js';
import { recurrentGradientAndGoldenSuite, recurrentReferenceSuite } from '../recurrent/recurrent.suite.js';
import { lstmGolden } from './lstm.golden.js';

const api: RnnApi = { cell: 'lstm', gates: 4, forward: lstm, backward: lstmBackward };
const TOL = { rtol: 2e-4, atol: 2e-5 };

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

const CASES: Case[] = [
  { T: 1, N: 1, I: 1, H: 1, L: 1, dirs: 1 },
  { T: 4, N: 3, I: 5, H: 6, L: 1, dirs: 2, h0: true, c0: true, dhN: true, dcN: true },
  // N = 5: a full batch tile of 4 and a partial one; H = 9 is not a multiple of 4.
  { T: 5, N: 5, I: 7, H: 9, L: 2, dirs: 2, h0: true, c0: true },
  // H = 70 > 64 hidden units: two workgroups along x, the second partly idle.
  { T: 3, N: 2, I: 4, H: 70, L: 1, dirs: 1, dhN: true },
  { T: 6, N: 9, I: 3, H: 8, L: 3, dirs: 1, c0: true, dcN: true },
  { T: 3, N: 2, I: 4, H: 5, L: 2, dirs: 2, bias: false, h0: true },
  // N = 8: exactly one full tile of the subgroup kernels (every broadcast lane a real row).
  { T: 3, N: 8, I: 4, H: 12, L: 1, dirs: 2, h0: true, c0: true, dhN: true, dcN: true },
  // H = 260 > 256 = WG * JB units: two backward workgroups along x.
  { T: 2, N: 1, I: 2, H: 260, L: 1, dirs: 2, h0: true },
];

recurrentReferenceSuite(() => rt, api, CASES, TOL);
recurrentGradientAndGoldenSuite(() => rt, api, ['lstm_dev_0.json', 'lstm_dev_1.json'], lstmGolden);

describe('lstm input checks', () => {
  it('rejects hostile inputs with OpInputError naming the op, before any dispatch', async () => {
    const [T, N, I, H] = [3, 2, 4, 5];
    const params: Record<string, Tensor> = {};
    const nm = paramNames(0, 0);
    params[nm.wih] = rt.zeros([4 * H, I]);
    params[nm.whh] = rt.zeros([4 * H, H]);
    params[nm.bih] = rt.zeros([4 * H]);
    params[nm.bhh] = rt.zeros([4 * H]);
    const x = rt.zeros([T, N, I]);
    const o = { hiddenSize: H };
    const without = (name: string) => Object.fromEntries(Object.entries(params).filter(([k]) => k !== name));
    const bad: Array<[string, () => unknown, RegExp]> = [
      ['x rank 2', () => lstm(rt, rt.zeros([T, I]), params, o), /lstm: expected x of rank 3/],
      ['x of i32', () => lstm(rt, rt.zeros([T, N, I], 'i32'), params, o), /lstm: expected x of dtype f32/],
      ['T = 0', () => lstm(rt, rt.zeros([0, N, I]), params, o), /lstm: expected x dimensions \[T, N, input\] of positive integers/],
      ['hiddenSize 0', () => lstm(rt, x, params, { hiddenSize: 0 }), /lstm: expected hiddenSize of positive integers/],
      ['hiddenSize 2.5', () => lstm(rt, x, params, { hiddenSize: 2.5 }), /lstm: expected hiddenSize/],
      ['wrong hiddenSize', () => lstm(rt, x, params, { hiddenSize: 4 }), /lstm: expected parameter weight_ih_l0 of shape \[16, 4\]/],
      ['numLayers 0', () => lstm(rt, x, params, { hiddenSize: H, numLayers: 0 }), /lstm: expected numLayers/],
      ['missing weight', () => lstm(rt, x, without(nm.whh), o), /lstm: expected parameter weight_hh_l0 of shape \[20, 5\], found no such parameter/],
      ['missing layer 1', () => lstm(rt, x, params, { hiddenSize: H, numLayers: 2 }), /lstm: expected parameter weight_ih_l1 of shape \[20, 5\]/],
      ['missing reverse', () => lstm(rt, x, params, { hiddenSize: H, bidirectional: true }), /lstm: expected parameter weight_ih_l0_reverse/],
      ['weight shape', () => lstm(rt, x, { ...params, [nm.wih]: rt.zeros([4 * H, I + 1]) }, o), /lstm: expected parameter weight_ih_l0 of shape \[20, 4\], found \[20, 5\]/],
      ['bias shape', () => lstm(rt, x, { ...params, [nm.bhh]: rt.zeros([3 * H]) }, o), /lstm: expected parameter bias_hh_l0 of shape \[20\]/],
      ['one bias only', () => lstm(rt, x, without(nm.bih), o), /lstm: expected every bias_ih_l\*\/bias_hh_l\* parameter or none/],
      ['unknown param', () => lstm(rt, x, { ...params, weight_ih_l0_rev: rt.zeros([4]) }, o), /lstm: .*unknown parameter 'weight_ih_l0_rev'/],
      ['h0 shape', () => lstm(rt, x, params, { ...o, h0: rt.zeros([1, N + 1, H]) }), /lstm: expected h0 of shape \[1, 2, 5\]/],
      ['c0 shape', () => lstm(rt, x, params, { ...o, c0: rt.zeros([2, N, H]) }), /lstm: expected c0 of shape \[1, 2, 5\]/],
      ['dropout 1', () => lstm(rt, x, params, { ...o, dropout: 1 }), /lstm: expected dropout in \[0, 1\)/],
      ['seed 1.5', () => lstm(rt, x, params, { ...o, seed: 1.5 }), /lstm: expected an integer seed/],
      ['variant', () => lstm(rt, x, params, { ...o, variant: 'fast' } as never), /lstm: expected variant 'auto', 'generic' or 'subgroup'/],
    ];
    rt.flush();
    const before = rt.stats().dispatches;
    for (const [label, f, msg] of bad) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err, label).toBeInstanceOf(OpInputError);
      expect((err as Error).message, label).toMatch(msg);
    }
    expect(rt.stats().dispatches).toBe(before);

    // Backward: dy, dhN, dcN shapes, then a saved state already consumed.
    const r = lstm(rt, x, params, o);
    const dy = rt.zeros([T, N, H]);
    const n0 = rt.stats().dispatches;
    expect(() => lstmBackward(rt, rt.zeros([T, N, 2 * H]), r.saved)).toThrow(/lstm_backward: expected dy of shape \[3, 2, 5\]/);
    expect(() => lstmBackward(rt, dy, r.saved, { dhN: rt.zeros([N, H]) })).toThrow(/lstm_backward: expected dhN of shape \[1, 2, 5\]/);
    expect(() => lstmBackward(rt, dy, r.saved, { dcN: rt.zeros([1, N, H + 1]) })).toThrow(/lstm_backward: expected dcN/);
    expect(rt.stats().dispatches).toBe(n0);
    const g = lstmBackward(rt, dy, r.saved);
    await rt.read(g.dx);
    expect(() => lstmBackward(rt, dy, r.saved)).toThrow(/lstm_backward: expected saved state that is alive/);
  });
});

describe('lstm NaN and saved state', () => {
  it('propagates NaN like the reference and finishes', async () => {
    const c: Case = { T: 4, N: 3, I: 3, H: 5, L: 2, dirs: 2 };
    const data = makeData(new Rng(9), 'lstm', c);
    data.x[(1 * c.N + 0) * c.I + 1] = NaN; // t = 1, n = 0
    const got = await gpuRun(rt, api, c, data);
    const want = refRun('lstm', c, data);
    expect(Number.isNaN(want.y[(1 * c.N + 0) * 2 * c.H]!)).toBe(true);
    expect(Number.isNaN(want.y[(1 * c.N + 1) * 2 * c.H]!)).toBe(false);
    const bad = compareResults('lstm', c, got, want, TOL);
    expect(bad, bad.join('\n')).toEqual([]);
  });

  it('keepSaved allows a second backward with the same result', async () => {
    const c: Case = { T: 3, N: 2, I: 3, H: 4, L: 1, dirs: 2 };
    const data = makeData(new Rng(4), 'lstm', c);
    const x = rt.upload(data.x, [c.T, c.N, c.I]);
    const params: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(data.params)) params[k] = rt.upload(v, k.startsWith('bias') ? [4 * c.H] : [4 * c.H, v.length / (4 * c.H)]);
    const r = lstm(rt, x, params, { hiddenSize: c.H, bidirectional: true });
    // 'auto' takes the subgroup kernels wherever the adapter has 8-lane subgroups.
    expect(r.saved.variant).toBe(hasWideSubgroups(rt) ? 'subgroup' : 'generic');
    const dy = rt.upload(data.dy, [c.T, c.N, 2 * c.H]);
    const a = lstmBackward(rt, dy, r.saved, { keepSaved: true });
    const b = lstmBackward(rt, dy, r.saved);
    const [da, db] = await rt.readMany([a.grads.weight_hh_l0_reverse!, b.grads.weight_hh_l0_reverse!]);
    expect(Array.from(da!)).toEqual(Array.from(db!));
    expect(r.saved.disposed).toBe(true);
  });
});
