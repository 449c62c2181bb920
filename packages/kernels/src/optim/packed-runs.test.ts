/**
 * Runs of neighbouring views (packed-runs.ts): the optimizer steps and the clip over tensors
 * packed into one buffer give what they give over separate tensors, in fewer dispatches, and
 * never touch a tensor left out of the list.
 */
import { Rng, Runtime, type Tensor } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asF32, randomArray, sameBitsOrClose } from '../testing.js';
import { clipGradNorm, clipTuning } from './clip-grad-norm.js';
import { Adadelta, Adam, Sgd, type Optimizer } from './optim.js';
import { packedRuns } from './packed-runs.js';

let rt: Runtime;
let align: number; // elements between view starts in an arena
beforeAll(async () => {
  rt = await Runtime.create();
  align = rt.device.limits.minStorageBufferOffsetAlignment / 4;
});
afterAll(() => rt.destroy());

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
// Sizes with and without a tail of n % 4, below and above one 256-byte alignment step, and
// [300000], which gets several partial workgroups per tensor in the clip.
const SHAPES = [[7], [3, 5], [257], [64], [33, 65], [1], [300000], [4099]];

/** Views of one fresh buffer at aligned offsets, in order, each filled from `data`. */
function arena(shapes: readonly number[][], data: readonly Float64Array[], pad = 0): { views: Tensor[]; whole: Tensor } {
  const offsets: number[] = [];
  let at = 0;
  for (const s of shapes) {
    offsets.push(at);
    at += Math.ceil(size(s) / align) * align + pad * align;
  }
  const whole = rt.zeros([at]);
  const views = shapes.map((s, i) => whole.view(s, offsets[i]!));
  views.forEach((v, i) => rt.write(v, data[i]!));
  return { views, whole };
}

const random = (rng: Rng, shapes: readonly number[][]) => shapes.map((s) => asF32(randomArray(rng, size(s))));
const expectAgree = (got: ArrayLike<number>, want: ArrayLike<number>, label: string) => expect(sameBitsOrClose(rt, got, want, label)).toBe('');

describe('packedRuns', () => {
  it('groups neighbours of one buffer laid out alike in every list, and nothing else', () => {
    const a = rt.zeros([20 * align]);
    const b = rt.zeros([20 * align]);
    const other = rt.zeros([align]);
    const v = (t: Tensor, at: number, n: number) => t.view([n], at * align);
    // Three neighbours (the second fills its step exactly), a gap of a whole step, one more.
    const p = [v(a, 0, 5), v(a, 1, align), v(a, 2, 3), v(a, 4, 7)];
    const g = [v(b, 0, 5), v(b, 1, align), v(b, 2, 3), v(b, 4, 7)];
    expect(packedRuns([p, g], align * 4)).toEqual([
      { start: 0, end: 3 },
      { start: 3, end: 4 },
    ]);
    // The same parameters with gradients laid out otherwise: the distances differ.
    const g2 = [v(b, 0, 5), v(b, 2, align), v(b, 3, 3), v(b, 4, 7)];
    expect(packedRuns([p, g2], align * 4)).toEqual([
      { start: 0, end: 1 },
      { start: 1, end: 3 },
      { start: 3, end: 4 },
    ]);
    // Another buffer, the reverse order, and the same view twice each break a run.
    expect(packedRuns([[p[0]!, other.view([3], 0)]], align * 4)).toHaveLength(2);
    expect(packedRuns([[p[1]!, p[0]!]], align * 4)).toHaveLength(2);
    expect(packedRuns([[p[0]!, p[0]!]], align * 4)).toHaveLength(2);
    expect(packedRuns([[]], align * 4)).toEqual([]);
    for (const t of [a, b, other, ...p, ...g, ...g2]) t.dispose();
  });
});

describe('clip_grad_norm over a packed arena', () => {
  for (const maxNorm of [0.5, Infinity]) {
    it(`max_norm ${maxNorm}: the norm and the gradients of separate tensors, in 3 dispatches`, async () => {
      const host = random(new Rng(11), SHAPES);
      const sep = SHAPES.map((s, i) => rt.upload(host[i]!, s));
      const n0 = clipGradNorm(rt, sep, maxNorm);
      const want = await rt.readMany([n0, ...sep]);
      const { views, whole } = arena(SHAPES, host);
      await rt.readMany([whole]);
      const d0 = rt.stats().dispatches;
      const n1 = clipGradNorm(rt, views, maxNorm);
      const dispatches = rt.stats().dispatches - d0;
      const got = await rt.readMany([n1, ...views]);
      got.forEach((t, i) => expectAgree(t, want[i]!, i === 0 ? 'norm' : `grads[${i - 1}]`));
      // partial_table, finish and scale4 (which covers the last tensor's 3 left-over
      // elements too: the arena has room up to the next vec4, runRange).
      expect(dispatches).toBe(3);
      for (const t of [n0, n1, ...sep, ...views, whole]) t.dispose();
    });
  }

  it('a table split over several dispatches, a list with a tensor left out, and a NaN', async () => {
    const host = random(new Rng(12), SHAPES);
    host[4]![17] = NaN;
    const keep = [0, 1, 2, 4, 5, 6, 7]; // [64] left out: two runs
    const sep = keep.map((i) => rt.upload(host[i]!, SHAPES[i]!));
    const n0 = clipGradNorm(rt, sep, 1);
    const want = await rt.readMany([n0, ...sep]);
    const { views, whole } = arena(SHAPES, host);
    clipTuning.maxTableGroups = 3;
    try {
      const n1 = clipGradNorm(rt, keep.map((i) => views[i]!), 1);
      const got = await rt.readMany([n1, ...keep.map((i) => views[i]!), views[3]!]);
      expect(Number.isNaN(got[0]![0]!)).toBe(true);
      keep.forEach((_, k) => expectAgree(got[k + 1]!, want[k + 1]!, `grads[${keep[k]}]`));
      expect(Array.from(got[keep.length + 1]!), 'the tensor left out').toEqual(Array.from(host[3]!));
      n1.dispose();
    } finally {
      clipTuning.maxTableGroups = 0;
    }
    for (const t of [n0, ...sep, ...views, whole]) t.dispose();
  });
});

describe('optimizer steps over a packed arena', () => {
  const makers: Array<[string, () => Optimizer]> = [
    ['sgd momentum nesterov wd', () => new Sgd({ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
    ['adam amsgrad wd', () => new Adam({ lr: 0.003, betas: [0.8, 0.99], eps: 1e-6, amsgrad: true, weightDecay: 0.01 })],
    ['adadelta wd', () => new Adadelta({ lr: 0.5, rho: 0.95, eps: 1e-5, weightDecay: 0.02 })],
  ];

  /** 3 steps; returns the parameters and state tensors read back, and the dispatches per step. */
  async function run(make: () => Optimizer, packed: boolean, keep: number[], seed: number) {
    const rng = new Rng(seed);
    const p0 = random(rng, SHAPES);
    const gs = [0, 1, 2].map(() => random(rng, SHAPES));
    const o = make();
    const pa = packed ? arena(SHAPES, p0) : null;
    const params = pa ? pa.views : SHAPES.map((s, i) => rt.upload(p0[i]!, s));
    const dispatches: number[] = [];
    for (const g of gs) {
      const ga = packed ? arena(SHAPES, g) : null;
      const grads = ga ? ga.views : SHAPES.map((s, i) => rt.upload(g[i]!, s));
      await rt.readMany([grads[0]!]);
      const d0 = rt.stats().dispatches;
      o.step(rt, keep.map((i) => params[i]!), keep.map((i) => grads[i]!));
      dispatches.push(rt.stats().dispatches - d0);
      for (const t of [...grads, ...(ga ? [ga.whole] : [])]) t.dispose();
    }
    const sd = o.stateDict().tensors;
    const out = await rt.readMany([...params, ...sd.map((d) => d.tensor)]);
    const storages = new Set(sd.map((d) => d.tensor.storage)).size;
    for (const t of [...params, ...(pa ? [pa.whole] : [])]) t.dispose();
    o.dispose();
    return { out, dispatches, storages, p0 };
  }

  for (const [label, make] of makers) {
    it(`${label}: the parameters and state of separate tensors, one run in one dispatch`, async () => {
      const all = SHAPES.map((_, i) => i);
      const a = await run(make, true, all, 21);
      const b = await run(make, false, all, 21);
      a.out.forEach((t, k) => expectAgree(t, b.out[k]!, k < SHAPES.length ? `params[${k}]` : `state tensor ${k - SHAPES.length}`));
      // main4 over the run's vec4s, the last tensor's 3 left-over elements included (runRange).
      expect(a.dispatches).toEqual([1, 1, 1]);
      const names = a.out.length / SHAPES.length - 1;
      expect(a.storages).toBe(names); // one buffer per state name
    });

    it(`${label}: a parameter left out of the list is not touched (weight decay would move it)`, async () => {
      const keep = [0, 1, 2, 4, 5, 6, 7];
      const a = await run(make, true, keep, 22);
      const b = await run(make, false, keep, 22);
      expect(Array.from(a.out[3]!), 'params[3], left out').toEqual(Array.from(a.p0[3]!));
      keep.forEach((i) => expectAgree(a.out[i]!, b.out[i]!, `params[${i}]`));
      const states = a.out.slice(SHAPES.length);
      states.forEach((t, k) => expectAgree(t, b.out[SHAPES.length + k]!, `state tensor ${k}`));
      // Two runs: [0, 3) and [3, 7) of the list.
      expect(a.dispatches).toEqual([2, 2, 2]);
    });
  }

  it('state restored as separate tensors is laid out like the arena at the next step, with the same results', async () => {
    const rng = new Rng(23);
    const p0 = random(rng, SHAPES);
    const gs = [0, 1, 2].map(() => random(rng, SHAPES));
    const make = () => new Adam({ lr: 0.01, weightDecay: 0.02 });
    // Straight through: three steps on the arena.
    const straight = make();
    const pa = arena(SHAPES, p0);
    for (const g of gs) {
      const ga = arena(SHAPES, g);
      straight.step(rt, pa.views, ga.views);
      for (const t of [...ga.views, ga.whole]) t.dispose();
    }
    // Two steps, the state saved to the host and restored into a new optimizer, one more step.
    const first = make();
    const pb = arena(SHAPES, p0);
    for (const g of gs.slice(0, 2)) {
      const gb = arena(SHAPES, g);
      first.step(rt, pb.views, gb.views);
      for (const t of [...gb.views, gb.whole]) t.dispose();
    }
    const sd = first.stateDict();
    const host = await rt.readMany(sd.tensors.map((d) => d.tensor));
    const resumed = make();
    resumed.loadStateDict(rt, { ...sd, tensors: sd.tensors.map((d, k) => ({ param: d.param, name: d.name, shape: d.shape, data: host[k]! })) });
    first.dispose();
    expect(new Set(resumed.stateDict().tensors.map((d) => d.tensor.storage)).size).toBe(2 * SHAPES.length);
    const gc = arena(SHAPES, gs[2]!);
    resumed.step(rt, pb.views, gc.views);
    for (const t of [...gc.views, gc.whole]) t.dispose();
    expect(new Set(resumed.stateDict().tensors.map((d) => d.tensor.storage)).size).toBe(2);
    const want = await rt.readMany([...pa.views, ...straight.stateDict().tensors.map((d) => d.tensor)]);
    const got = await rt.readMany([...pb.views, ...resumed.stateDict().tensors.map((d) => d.tensor)]);
    got.forEach((t, k) => expect(Array.from(t), `tensor ${k}`).toEqual(Array.from(want[k]!)));
    for (const t of [...pa.views, pa.whole, ...pb.views, pb.whole]) t.dispose();
    straight.dispose();
    resumed.dispose();
  });
});
