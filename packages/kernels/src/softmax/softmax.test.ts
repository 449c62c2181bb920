import { OpInputError, Rng, Runtime } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asF32, assertClose, dot, finiteDiff, randomArray } from '../testing.js';
import { logSoftmax, logSoftmaxBackward, softmax, softmaxBackward, softmaxGeometry } from './softmax.js';
import { softmaxBackwardRef, softmaxRef, type Dims3 } from './softmax.ref.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

const TOL = { rtol: 1e-5, atol: 1e-6 };
const VARIANTS = [
  { log: false, fwd: softmax, bwd: softmaxBackward, name: 'softmax' },
  { log: true, fwd: logSoftmax, bwd: logSoftmaxBackward, name: 'log_softmax' },
] as const;

function dims(shape: number[], axis: number): Dims3 {
  const g = softmaxGeometry('test', shape, axis);
  return [g.outer, g.axis, g.inner];
}

describe('softmax / log_softmax', () => {
  for (const v of VARIANTS) {
    it(`${v.name}: GPU matches the float64 reference over shapes and axes (both layouts)`, async () => {
      const rng = new Rng(21);
      // Axis lengths on both sides of the per-row / per-workgroup switch (128), inner > 1
      // (a middle axis), axis length 1, and large logits that overflow without max subtraction.
      const cases: Array<[number[], number]> = [
        [[1], 0],
        [[5], -1],
        [[3, 7], 1],
        [[3, 7], 0],
        [[24, 8, 37], -1],
        [[8, 37, 5], 1],
        [[2, 3, 4, 5], 2],
        [[4, 1, 3], 1],
        [[3, 300], -1],
        [[2, 1000, 3], 1],
        [[129, 2], 0],
        [[70000, 2], 1],
        [[70000, 2], 0],
        [[6, 37], -1],
      ];
      for (const [shape, axis] of cases) {
        const n = shape.reduce((a, b) => a * b, 1);
        // [6, 37] sits around 500, where exp overflows f32 unless the maximum is subtracted.
        const offset = shape[1] === 37 && shape.length === 2 ? 500 : 0;
        const x = asF32(randomArray(rng, n, offset - 30, offset + 30));
        const dy = asF32(randomArray(rng, n));
        const d = dims(shape, axis);
        const tx = rt.upload(x, shape);
        const ty = v.fwd(rt, tx, { axis });
        const tdy = rt.upload(dy, shape);
        const tdx = v.bwd(rt, tdy, ty, { axis });
        const [y, dx] = await rt.readMany([ty, tdx]);
        assertClose(y!, softmaxRef(x, d, v.log), TOL, `${v.name} y [${shape}] axis ${axis}`);
        // Backward checked on the GPU's own y, so only the backward math is compared.
        assertClose(dx!, softmaxBackwardRef(dy, y!, d, v.log), { rtol: 1e-4, atol: 1e-5 }, `${v.name} dx [${shape}] axis ${axis}`);
        for (const t of [tx, ty, tdy, tdx]) t.dispose();
      }
    });

    it(`${v.name}: masked by lengths matches the reference (host array and i32 tensor)`, async () => {
      const rng = new Rng(22);
      for (const [shape, axis, lengths] of [
        [[2, 3, 6], 2, [4, 0]],
        [[3, 6], 1, [1, 6, 3]],
        [[2, 200], 1, [150, 200]],
        [[4, 5, 3], 1, [2, 5]],
      ] as Array<[number[], number, number[]]>) {
        const n = shape.reduce((a, b) => a * b, 1);
        const x = asF32(randomArray(rng, n, -4, 4));
        const dy = asF32(randomArray(rng, n));
        const d = dims(shape, axis);
        for (const asTensor of [false, true]) {
          const len = asTensor ? rt.upload(lengths, [lengths.length], 'i32') : lengths;
          const ty = v.fwd(rt, rt.upload(x, shape), { axis, lengths: len });
          const tdx = v.bwd(rt, rt.upload(dy, shape), ty, { axis, lengths: len });
          const [y, dx] = await rt.readMany([ty, tdx]);
          assertClose(y!, softmaxRef(x, d, v.log, lengths), TOL, `${v.name} masked y [${shape}] ${lengths}`);
          assertClose(dx!, softmaxBackwardRef(dy, y!, d, v.log, lengths), { rtol: 1e-4, atol: 1e-5 }, `${v.name} masked dx`);
        }
      }
    });

    it(`${v.name}: backward matches finite differences (reference and GPU)`, async () => {
      const rng = new Rng(23);
      for (const [shape, axis, lengths] of [
        [[2, 5], 1, undefined],
        [[3, 4, 2], 1, undefined],
        [[2, 4], 1, [3, 1]],
        [[1, 140], 1, undefined],
      ] as Array<[number[], number, number[] | undefined]>) {
        const n = shape.reduce((a, b) => a * b, 1);
        const d = dims(shape, axis);
        const x = randomArray(rng, n, -2, 2);
        const w = randomArray(rng, n);
        const fd = finiteDiff((xx) => dot(softmaxRef(xx, d, v.log, lengths), w), Float64Array.from(x));
        const y = softmaxRef(x, d, v.log, lengths);
        assertClose(softmaxBackwardRef(w, y, d, v.log, lengths), fd, { rtol: 1e-6, atol: 1e-7 }, `${v.name} ref vs fd`);
        const o = { axis, ...(lengths ? { lengths } : {}) };
        const ty = v.fwd(rt, rt.upload(x, shape), o);
        const tdx = v.bwd(rt, rt.upload(w, shape), ty, o);
        assertClose(await rt.read(tdx), fd, { rtol: 1e-3, atol: 1e-4 }, `${v.name} gpu vs fd [${shape}]`);
      }
    });

    it(`${v.name}: NaN propagates through the row and never hangs (both layouts)`, async () => {
      for (const axisLen of [5, 300]) {
        const x = new Float32Array(2 * axisLen).map((_, i) => (i % 7) - 3);
        x[3] = NaN; // row 0 only
        const tx = rt.upload(x, [2, axisLen]);
        const y = await rt.read(v.fwd(rt, tx));
        for (let a = 0; a < axisLen; a++) expect(Number.isNaN(y[a]), `row 0 [${a}] of ${axisLen}`).toBe(true);
        for (let a = axisLen; a < 2 * axisLen; a++) expect(Number.isFinite(y[a]), `row 1 [${a}]`).toBe(true);
        const dy = new Float32Array(2 * axisLen).fill(0.5);
        dy[axisLen + 1] = NaN; // row 1 only
        const ty = v.fwd(rt, rt.upload(new Float32Array(2 * axisLen), [2, axisLen]));
        const dx = await rt.read(v.bwd(rt, rt.upload(dy, [2, axisLen]), ty));
        expect(Number.isNaN(dx[axisLen + 1])).toBe(true);
        expect(Number.isNaN(dx[2 * axisLen - 1])).toBe(true);
        expect(Number.isFinite(dx[0])).toBe(true);
      }
    });
  }

  it('an empty tensor gives an empty result', async () => {
    const y = softmax(rt, rt.zeros([0, 5]));
    expect(y.shape).toEqual([0, 5]);
    expect((await rt.read(y)).length).toBe(0);
  });

  it('rejects hostile inputs with OpInputError naming the op, before any dispatch', () => {
    const before = rt.stats().dispatches;
    const x = rt.zeros([2, 3]);
    expect(() => softmax(rt, x, { axis: 2 })).toThrow(/softmax: expected axis an integer in \[-2, 2\)/);
    expect(() => logSoftmax(rt, x, { axis: -3 })).toThrow(/log_softmax: expected axis/);
    expect(() => softmax(rt, x, { axis: 0.5 })).toThrow(OpInputError);
    expect(() => softmax(rt, rt.zeros([]))).toThrow(/softmax: expected x of rank >= 1/);
    expect(() => softmax(rt, rt.zeros([2, 3], 'i32'))).toThrow(/softmax: expected x of dtype f32/);
    expect(() => softmaxBackward(rt, rt.zeros([2, 4]), x)).toThrow(/softmax_backward: expected dy of shape \[2, 3\]/);
    expect(() => logSoftmaxBackward(rt, rt.zeros([3, 2]), x)).toThrow(/log_softmax_backward: expected dy of shape/);
    // lengths: count must divide the leading rows, values within [0, axis], i32 tensors only.
    expect(() => softmax(rt, x, { lengths: [1, 2, 3] })).toThrow(/softmax: expected lengths with a count that divides/);
    expect(() => softmax(rt, x, { lengths: [4, 1] })).toThrow(/softmax: expected lengths integers in \[0, 3\], found lengths\[0\] = 4/);
    expect(() => softmax(rt, x, { lengths: [-1, 1] })).toThrow(/lengths integers/);
    expect(() => softmax(rt, x, { lengths: rt.zeros([2]) })).toThrow(/softmax: expected lengths of dtype i32/);
    const dead = rt.zeros([2, 3]);
    dead.dispose();
    expect(() => softmax(rt, dead)).toThrow(/softmax: expected a live tensor/);
    expect(rt.stats().dispatches).toBe(before);
  });
});
