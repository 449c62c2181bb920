import { resolve } from 'node:path';
import { OpInputError, Rng, Runtime } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCase, runCase, type GoldenTensor } from '../golden/golden.js';
import { asF32, assertClose, randomArray, sameBitsOrClose } from '../testing.js';
import { optimizerAdadeltaGolden, optimizerAdamGolden, optimizerSgdGolden } from './optim.golden.js';
import { Adadelta, Adam, Sgd, type AdadeltaOptions, type AdamOptions, type Optimizer, type SgdOptions } from './optim.js';
import { AdadeltaRef, AdamRef, SgdRef } from './optim.ref.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

const GOLDEN = `${process.env.GOLDEN_DIR ?? resolve(import.meta.dirname, '../../../../../shared/golden')}/`;
const TOL = { rtol: 1e-4, atol: 1e-5 };
// Sizes: 1, not a multiple of 4, more than one workgroup of 256, and a 2-D tensor of 2145.
const SHAPES = [[1], [7], [3, 5], [257], [33, 65]];
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

interface RefOpt {
  lr: number;
  step(params: Float64Array[], grads: readonly ArrayLike<number>[]): void;
}

type Case = { label: string; make: () => Optimizer; ref: () => RefOpt };

const sgd = (o: SgdOptions): Case => ({ label: `sgd ${JSON.stringify(o)}`, make: () => new Sgd(o), ref: () => new SgdRef(o) });
const adam = (o: AdamOptions): Case => ({ label: `adam ${JSON.stringify(o)}`, make: () => new Adam(o), ref: () => new AdamRef(o) });
const adadelta = (o: AdadeltaOptions): Case => ({ label: `adadelta ${JSON.stringify(o)}`, make: () => new Adadelta(o), ref: () => new AdadeltaRef(o) });

const CASES: Case[] = [
  sgd({ lr: 0.1 }),
  sgd({ lr: 0.1, weightDecay: 0.1 }),
  sgd({ lr: 0.1, momentum: 0.9 }),
  sgd({ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
  sgd({ lr: 0.1, momentum: 0.5, dampening: 0.3, weightDecay: 0.02 }),
  adam({ lr: 0.01 }),
  adam({ lr: 0.02, weightDecay: 0.05 }),
  adam({ lr: 0.01, amsgrad: true }),
  adam({ lr: 0.003, betas: [0.8, 0.99], eps: 1e-6, amsgrad: true, weightDecay: 0.01 }),
  adadelta({}),
  adadelta({ lr: 0.5, rho: 0.95, eps: 1e-5, weightDecay: 0.02 }),
];

function randomList(rng: Rng, shapes: number[][], lo = -1, hi = 1): Float64Array[] {
  return shapes.map((s) => asF32(randomArray(rng, size(s), lo, hi)));
}

describe('optimizers vs the float64 reference', () => {
  for (const c of CASES) {
    it(`${c.label}: 5 steps over ${SHAPES.length} tensors with a changing lr`, async () => {
      const rng = new Rng(100);
      const host = randomList(rng, SHAPES);
      const params = host.map((p, i) => rt.upload(p, SHAPES[i]!));
      const opt = c.make();
      const ref = c.ref();
      const lr0 = opt.lr;
      // A schedule: the lr changes between every step.
      const schedule = [1, 0.5, 2, 0.25, 1.5];
      for (let step = 0; step < schedule.length; step++) {
        opt.lr = ref.lr = lr0 * schedule[step]!;
        // Some small gradients too, so that Adam's and Adadelta's denominators are not all alike.
        const g = randomList(rng, SHAPES).map((a) => (step === 2 ? a.map((v) => v * 1e-3) : a));
        const tg = g.map((a, i) => rt.upload(a, SHAPES[i]!));
        opt.step(rt, params, tg);
        ref.step(host, g);
        const got = await rt.readMany(params);
        got.forEach((p, i) => assertClose(p, host[i]!, TOL, `${c.label} step ${step + 1} param ${i} ${SHAPES[i]}`));
        tg.forEach((t) => t.dispose());
      }
      expect(opt.stepCount).toBe(schedule.length);
      params.forEach((t) => t.dispose());
      opt.dispose();
    });
  }
});

describe('vec4 kernels', () => {
  // 4099 = 1024 vec4s through main4 and 3 elements through main; with vec4 off, main does
  // all. Every operation is per component: the same bits on software adapters, on GPUs
  // within sameBitsOrClose's bound (testing.ts says why).
  const shapes = [[4099], [8], [3]];
  for (const c of CASES) {
    it(`${c.label}: the same bits as one element per invocation, over 3 steps (on GPUs within 4 float32 steps)`, async () => {
      const rng = new Rng(7);
      const p0 = randomList(rng, shapes);
      const gs = [0, 1, 2].map(() => randomList(rng, shapes));
      const run = async (vec4: boolean) => {
        const o = c.make();
        o.vec4 = vec4;
        const params = p0.map((p, i) => rt.upload(p, shapes[i]!));
        for (const g of gs) {
          const tg = g.map((a, i) => rt.upload(a, shapes[i]!));
          o.step(rt, params, tg);
          tg.forEach((t) => t.dispose());
        }
        const state = o.stateDict().tensors.map((d) => d.tensor);
        const out = (await rt.readMany([...params, ...state])).map((a) => Array.from(a));
        params.forEach((t) => t.dispose());
        o.dispose();
        return out;
      };
      const [a, b] = [await run(true), await run(false)];
      expect(a.length).toBe(b.length);
      a.forEach((t, k) => expect(sameBitsOrClose(rt, t, b[k]!, `tensor ${k}, vec4 against scalar`)).toBe(''));
    });
  }
});

describe('reference against closed forms', () => {
  // Independent of the reference code: first steps worked out by hand.
  const rng = new Rng(7);
  const p0 = asF32(randomArray(rng, 9));
  const g = asF32(randomArray(rng, 9));

  const check = async (opt: Optimizer, ref: RefOpt, want: (p: number, g: number) => number, label: string) => {
    const hp = Float64Array.from(p0);
    ref.step([hp], [g]);
    const expected = Array.from(p0, (p, i) => want(p, g[i]!));
    assertClose(hp, expected, { rtol: 1e-12, atol: 1e-14 }, `${label} ref`);
    const tp = rt.upload(p0, [9]);
    opt.step(rt, [tp], [rt.upload(g, [9])]);
    assertClose(await rt.read(tp), expected, { rtol: 1e-5, atol: 1e-6 }, `${label} gpu`);
  };

  it('SGD: p - lr (g + wd p); with momentum the first step uses buf = g', async () => {
    await check(new Sgd({ lr: 0.3, weightDecay: 0.1 }), new SgdRef({ lr: 0.3, weightDecay: 0.1 }), (p, gi) => p - 0.3 * (gi + 0.1 * p), 'sgd');
    await check(new Sgd({ lr: 0.3, momentum: 0.9, dampening: 0.5 }), new SgdRef({ lr: 0.3, momentum: 0.9, dampening: 0.5 }), (p, gi) => p - 0.3 * gi, 'sgd momentum');
    // nesterov: d = g + momentum * buf = (1 + momentum) g on the first step.
    await check(new Sgd({ lr: 0.3, momentum: 0.9, nesterov: true }), new SgdRef({ lr: 0.3, momentum: 0.9, nesterov: true }), (p, gi) => p - 0.3 * 1.9 * gi, 'sgd nesterov');
  });

  it('Adam: the first step is lr * g / (|g| + eps)', async () => {
    await check(new Adam({ lr: 0.1, eps: 1e-3 }), new AdamRef({ lr: 0.1, eps: 1e-3 }), (p, gi) => p - (0.1 * gi) / (Math.abs(gi) + 1e-3), 'adam');
  });

  it('Adadelta: the first step is lr * sqrt(eps) / sqrt((1 - rho) g^2 + eps) * g', async () => {
    const want = (p: number, gi: number) => p - (0.7 * Math.sqrt(1e-3) * gi) / Math.sqrt(0.1 * gi * gi + 1e-3);
    await check(new Adadelta({ lr: 0.7, eps: 1e-3 }), new AdadeltaRef({ lr: 0.7, eps: 1e-3 }), want, 'adadelta');
  });
});

describe('golden cases', () => {
  const files: Array<[string, string, Parameters<typeof runCase>[2]]> = [
    ['optim_sgd_dev.json', 'optimizer_sgd', { optimizer_sgd: optimizerSgdGolden }],
    ['optim_adam_dev.json', 'optimizer_adam', { optimizer_adam: optimizerAdamGolden }],
    ['optim_adadelta_dev.json', 'optimizer_adadelta', { optimizer_adadelta: optimizerAdadeltaGolden }],
  ];
  for (const [file, op, handlers] of files) {
    it(`${file} (${op}) passes on the GPU`, async () => {
      const c = loadCase(GOLDEN + file);
      expect(c.op).toBe(op);
      const r = await runCase(rt, c, handlers);
      expect(r.ok, r.message).toBe(true);
    });
  }

  it('the float64 reference reproduces the golden trajectories', () => {
    const refs: Record<string, (a: Record<string, unknown>) => RefOpt> = {
      optimizer_sgd: (a) => new SgdRef({ lr: a.lr as number, momentum: (a.momentum as number) ?? 0 }),
      optimizer_adam: (a) => new AdamRef({ lr: a.lr as number, betas: a.betas as [number, number], eps: a.eps as number }),
      optimizer_adadelta: (a) => new AdadeltaRef({ lr: a.lr as number, rho: a.rho as number, eps: a.eps as number }),
    };
    for (const [file] of files) {
      const c = loadCase(GOLDEN + file);
      const ref = refs[c.op]!(c.attrs);
      const p = [Float64Array.from((c.inputs.param as GoldenTensor).data)];
      const want = c.outputs.param_after_each_step as GoldenTensor[];
      (c.inputs.grads_per_step as GoldenTensor[]).forEach((g, k) => {
        ref.step(p, [g.data]);
        assertClose(p[0]!, want[k]!.data, c.tol, `${file} ref step ${k + 1}`);
      });
    }
  });
});

describe('state dict', () => {
  const makers: Array<[string, () => Optimizer, Record<string, number | boolean>]> = [
    ['sgd', () => new Sgd({ lr: 0.1, momentum: 0.9, nesterov: true }), { lr: 0.1 }],
    ['adam', () => new Adam({ lr: 0.01, amsgrad: true, weightDecay: 0.01 }), { lr: 0.001 }],
    ['adadelta', () => new Adadelta({ lr: 0.9, rho: 0.8 }), { lr: 1 }],
  ];
  for (const [kind, make] of makers) {
    for (const via of ['host data', 'gpu tensors'] as const) {
      it(`${kind}: save after 3 steps, restore into a fresh optimizer (${via}), identical continuation`, async () => {
        const rng = new Rng(200);
        const shapes = [[5], [3, 4], [300]];
        const grads = Array.from({ length: 5 }, () => randomList(rng, shapes));
        const p0 = randomList(rng, shapes);
        const a = make();
        const pa = p0.map((p, i) => rt.upload(p, shapes[i]!));
        for (let s = 0; s < 3; s++) a.step(rt, pa, grads[s]!.map((g, i) => rt.upload(g, shapes[i]!)));
        a.lr *= 0.5; // the schedule's state travels with the dict
        const sd = a.stateDict();
        expect(sd.kind).toBe(kind);
        expect(sd.step).toBe(3);
        expect(sd.tensors.every((t) => t.shape.length > 0 && t.tensor.size === size(t.shape))).toBe(true);
        const data = await rt.readMany(sd.tensors.map((t) => t.tensor));
        // A checkpoint round trip: JSON for everything but the tensor contents.
        const json = JSON.parse(JSON.stringify({ ...sd, tensors: sd.tensors.map(({ param, name, shape }) => ({ param, name, shape })) })) as typeof sd;
        const b = kind === 'sgd' ? new Sgd({ lr: 5 }) : kind === 'adam' ? new Adam({ amsgrad: true }) : new Adadelta();
        b.loadStateDict(rt, {
          kind: json.kind,
          step: json.step,
          hyper: json.hyper,
          tensors: json.tensors.map((t, k) => (via === 'host data' ? { ...t, data: data[k]! } : { ...t, tensor: sd.tensors[k]!.tensor })),
        });
        expect(b.lr).toBe(a.lr);
        expect(b.stepCount).toBe(3);
        const pa3 = await rt.readMany(pa);
        const pb = pa3.map((p, i) => rt.upload(p, shapes[i]!));
        for (let s = 3; s < 5; s++) {
          a.step(rt, pa, grads[s]!.map((g, i) => rt.upload(g, shapes[i]!)));
          b.step(rt, pb, grads[s]!.map((g, i) => rt.upload(g, shapes[i]!)));
        }
        const [ga, gb] = [await rt.readMany(pa), await rt.readMany(pb)];
        ga.forEach((x, i) => expect(Array.from(gb[i]!), `param ${i}`).toEqual(Array.from(x)));
        // And a copy, not an alias: a's state moved on, b's is its own.
        const sb = b.stateDict();
        expect(sb.tensors.every((t, k) => t.tensor !== sd.tensors[k]!.tensor)).toBe(true);
        // The continuation differs from one without the restored state (the test can fail).
        const c = make();
        c.lr = a.lr;
        const pc = pa3.map((p, i) => rt.upload(p, shapes[i]!));
        c.step(rt, pc, grads[3]!.map((g, i) => rt.upload(g, shapes[i]!)));
        const gc = await rt.readMany(pc);
        expect(Array.from(gc[2]!)).not.toEqual(Array.from(ga[2]!));
        a.dispose();
        b.dispose();
        c.dispose();
      });
    }
  }

  it('SGD without momentum has no state tensors; a fresh dict restores the step count', () => {
    const o = new Sgd({ lr: 0.1 });
    o.step(rt, [rt.zeros([3])], [rt.zeros([3])]);
    expect(o.stateDict()).toEqual({ kind: 'sgd', step: 1, hyper: { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weight_decay: 0 }, tensors: [] });
    const o2 = new Sgd({ lr: 1 });
    o2.loadStateDict(rt, o.stateDict());
    expect(o2.stepCount).toBe(1);
    expect(o2.lr).toBe(0.1);
  });
});

describe('NaN', () => {
  for (const make of [() => new Sgd({ lr: 0.1, momentum: 0.9 }), () => new Adam({ amsgrad: true }), () => new Adadelta()]) {
    it(`${make().kind}: a NaN gradient makes that parameter NaN, leaves the others finite, and returns`, async () => {
      const p = rt.upload([1, 2, 3, 4, 5], [5]);
      const o = make();
      for (let s = 0; s < 3; s++) o.step(rt, [p], [rt.upload([0.1, NaN, -0.2, 0.3, 0.4], [5])]);
      const got = await rt.read(p);
      expect(Number.isNaN(got[1])).toBe(true);
      expect([0, 2, 3, 4].every((i) => Number.isFinite(got[i]!))).toBe(true);
      o.dispose();
    });
  }
});

describe('hostile inputs throw OpInputError naming the op and index before any dispatch', () => {
  const expectThrow = (f: () => void, re: RegExp) => {
    const before = rt.stats().dispatches;
    expect(f).toThrow(OpInputError);
    expect(f).toThrow(re);
    expect(rt.stats().dispatches).toBe(before);
  };
  const ps = () => [rt.zeros([4]), rt.zeros([2, 3]), rt.zeros([5])];

  for (const make of [() => new Sgd({ lr: 0.1, momentum: 0.9 }), () => new Adam(), () => new Adadelta()]) {
    const kind = make().kind;
    it(`${kind}: counts, shapes, dtypes, aliasing, the state's parameter list, lr`, () => {
      const o = make();
      const p = ps();
      expectThrow(() => o.step(rt, p, p.slice(0, 2).map((t) => rt.zeros(t.shape))), new RegExp(`^${kind}_step: expected one gradient per parameter \\(3\\), found 2 gradients`));
      expectThrow(() => o.step(rt, [], []), new RegExp(`${kind}_step: expected at least one parameter`));
      expectThrow(() => o.step(rt, p, [rt.zeros([4]), rt.zeros([3, 2]), rt.zeros([5])]), new RegExp(`${kind}_step: expected grads\\[1\\] of the shape of params\\[1\\], \\[2, 3\\], found \\[3, 2\\]`));
      expectThrow(() => o.step(rt, p, [rt.zeros([4]), rt.zeros([2, 3]), rt.zeros([5], 'i32')]), new RegExp(`${kind}_step: expected grads\\[2\\] of dtype f32`));
      expectThrow(() => o.step(rt, p, [p[0]!, rt.zeros([2, 3]), rt.zeros([5])]), /grads\[0\] in memory apart from params\[0\]/);
      expectThrow(() => o.step(rt, [p[0]!, p[0]!], [rt.zeros([4]), rt.zeros([4])]), /params\[1\] overlapping params\[0\]/);
      const dead = rt.zeros([5]);
      dead.dispose();
      expectThrow(() => o.step(rt, p, [rt.zeros([4]), rt.zeros([2, 3]), dead]), /grads\[2\]: expected a live tensor/);
      expect(o.stepCount).toBe(0);
      o.step(rt, p, p.map((t) => rt.zeros(t.shape)));
      expectThrow(() => o.step(rt, p.slice(0, 2), p.slice(0, 2).map((t) => rt.zeros(t.shape))), new RegExp(`${kind}_step: expected the 3 parameters of the previous steps, found 2`));
      expectThrow(() => o.step(rt, [p[0]!, p[1]!, rt.zeros([6])], [rt.zeros([4]), rt.zeros([2, 3]), rt.zeros([6])]), /expected params\[2\] of shape \[5\] as in the previous steps, found \[6\]/);
      for (const bad of [-0.1, NaN, Infinity]) {
        o.lr = bad;
        expectThrow(() => o.step(rt, p, p.map((t) => rt.zeros(t.shape))), new RegExp(`${kind}_step: expected lr finite and >= 0`));
      }
      expect(o.stepCount).toBe(1);
      o.dispose();
    });

    it(`${kind}: loadStateDict rejects another kind, missing or mis-sized tensors, and leaves the optimizer as it was`, () => {
      const o = make();
      const p = ps();
      o.step(rt, p, p.map((t) => rt.zeros(t.shape)));
      const sd = o.stateDict();
      const before = o.stateDict();
      expectThrow(() => o.loadStateDict(rt, { ...sd, kind: kind === 'adam' ? 'sgd' : 'adam' }), new RegExp(`${kind}_load_state_dict: expected a '${kind}' state dict`));
      expectThrow(() => o.loadStateDict(rt, { ...sd, tensors: sd.tensors.slice(1) }), /expected state '.*' of parameter 0, found none/);
      expectThrow(() => o.loadStateDict(rt, { ...sd, tensors: sd.tensors.map((t, k) => (k === 0 ? { ...t, tensor: undefined, data: [1, 2] } : t)) }), /0\/\w+ with 4 values for shape \[4\], found 2 values/);
      expectThrow(() => o.loadStateDict(rt, { ...sd, tensors: [...sd.tensors, { ...sd.tensors[0]!, name: 'nope' }] }), /expected state names/);
      expectThrow(() => o.loadStateDict(rt, { ...sd, step: -1 }), /expected step a non-negative integer/);
      expectThrow(() => o.loadStateDict(rt, { ...sd, hyper: { lr: -1 } }), new RegExp(`${kind}_load_state_dict: expected lr finite and >= 0`));
      expect(o.stateDict()).toEqual(before);
      o.dispose();
    });
  }

  it('constructors reject torch-invalid hyperparameters', () => {
    expect(() => new Sgd({ lr: -1 })).toThrow(/sgd: expected lr finite and >= 0, found -1/);
    expect(() => new Sgd({ lr: 0.1, nesterov: true })).toThrow(/sgd: expected nesterov with momentum > 0 and dampening 0/);
    expect(() => new Sgd({ lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true })).toThrow(OpInputError);
    expect(() => new Adam({ betas: [1, 0.999] })).toThrow(/adam: expected beta1 in \[0, 1\), found 1/);
    expect(() => new Adam({ eps: -1 })).toThrow(/adam: expected eps/);
    expect(() => new Adadelta({ rho: 1.5 })).toThrow(/adadelta: expected rho in \[0, 1\], found 1.5/);
    expect(() => new Adadelta({ weightDecay: -0.1 })).toThrow(/adadelta: expected weight_decay/);
  });

  it('the SGD lr is required (NaN from a missing golden attr is rejected)', () => {
    expect(() => new Sgd({ lr: NaN })).toThrow(OpInputError);
  });

  it('zero-sized parameters are allowed and left alone', async () => {
    const o = new Adam();
    const p = rt.upload([1, 2], [2]);
    o.step(rt, [rt.zeros([0]), p], [rt.zeros([0]), rt.upload([1, 1], [2])]);
    const got = await rt.read(p);
    assertClose(got, [1 - 1e-3, 2 - 1e-3], { rtol: 1e-5, atol: 1e-6 }, 'after a step with an empty tensor');
    o.dispose();
  });
});

