import { Rng, Runtime } from '@crnn/core';
import { asF32, assertClose, crossEntropyRef, finiteDiff, linearRef, randomArray, unaryRef } from '@crnn/kernels/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Param, Tape } from './autograd.js';
import * as F from './ops.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

// A two-layer MLP with a cross-entropy loss, on the tape and in float64 on the CPU.
const [N, I, H, C] = [4, 6, 5, 3];
const targets = [0, 2, 1, 2];

function refLoss(x: Float64Array, w1: Float64Array, b1: Float64Array, w2: Float64Array, b2: Float64Array): number {
  const h = unaryRef('relu', linearRef(x, w1, b1, N, I, H));
  const logits = linearRef(h, w2, b2, N, H, C);
  return crossEntropyRef(logits, targets, { outer: N, classes: C, inner: 1 }, -100, 'mean')[0]!;
}

describe('autograd tape', () => {
  it('max pooling keeps no argmax when there is no gradient to take (eval), with the same values', async () => {
    const data = Float32Array.from({ length: 32 }, (_, i) => ((i * 7) % 11) - 5);
    const opts = { kernel: 2 };
    void rt.placeholder; // created once per runtime, on first use (eval binds it for the argmax)
    const train = new Tape(rt);
    const x1 = new Param(rt.upload(data, [1, 2, 4, 4]), 'x');
    const before = rt.pool.counters.bytesLive;
    const y1 = F.maxPool2d(train, x1, opts);
    const grewTrain = rt.pool.counters.bytesLive - before;
    const evalTape = new Tape(rt, false, false);
    const x2 = evalTape.constant(rt.upload(data, [1, 2, 4, 4]));
    const mid = rt.pool.counters.bytesLive;
    const y2 = F.maxPool2d(evalTape, x2, opts);
    const grewEval = rt.pool.counters.bytesLive - mid;
    // Training keeps y and the i32 argmax of the same size for the backward pass; eval only y.
    expect(grewEval).toBeGreaterThan(0);
    expect(grewTrain).toBe(2 * grewEval);
    expect(Array.from(await rt.read(y2.value))).toEqual(Array.from(await rt.read(y1.value)));
    train.dispose();
    evalTape.dispose();
  });

  it('computes every parameter gradient of a small network (vs finite differences of the float64 reference)', async () => {
    const rng = new Rng(30);
    const x = asF32(randomArray(rng, N * I));
    const init = [I * H, H, H * C, C].map((n) => asF32(randomArray(rng, n, -0.8, 0.8)));
    const shapes = [[H, I], [H], [C, H], [C]];
    const params = init.map((d, i) => new Param(rt.upload(d, shapes[i]!), `p${i}`));
    const [w1, b1, w2, b2] = params as [Param, Param, Param, Param];

    void rt.placeholder; // created once per runtime, on first use: not part of a step
    const baseline = rt.pool.counters.bytesLive;
    const tape = new Tape(rt);
    const h = F.relu(tape, F.linear(tape, tape.constant(rt.upload(x, [N, I])), w1, b1));
    const loss = F.crossEntropy(tape, F.linear(tape, h, w2, b2), { targets });
    tape.backward(loss);
    const [lossV] = await rt.readMany([loss.value]);
    expect(lossV![0]).toBeCloseTo(refLoss(x, ...(init as [Float64Array, Float64Array, Float64Array, Float64Array])), 5);
    const grads = await rt.readMany(params.map((p) => p.grad!));
    for (let k = 0; k < 4; k++) {
      const fd = finiteDiff((v) => {
        const args = init.map((d, i) => (i === k ? v : d)) as [Float64Array, Float64Array, Float64Array, Float64Array];
        return refLoss(x, ...args);
      }, Float64Array.from(init[k]!));
      assertClose(grads[k]!, fd, { rtol: 1e-3, atol: 1e-5 }, `grad of p${k}`);
    }

    // Everything the step made is freed by dispose(): only the parameter gradients remain.
    tape.dispose();
    const gradBytes = params.reduce((s, p) => s + p.grad!.storage.byteLength, 0);
    expect(rt.pool.counters.bytesLive).toBe(baseline + gradBytes);

    // A second backward accumulates into the gradients (PyTorch semantics) until zeroGrad.
    const tape2 = new Tape(rt);
    const h2 = F.relu(tape2, F.linear(tape2, tape2.constant(rt.upload(x, [N, I])), w1, b1));
    tape2.backward(F.crossEntropy(tape2, F.linear(tape2, h2, w2, b2), { targets }));
    const twice = await rt.read(w1.grad!);
    assertClose(twice, Float64Array.from(grads[0]!, (v) => 2 * v), { rtol: 1e-5, atol: 1e-7 }, 'accumulated');
    tape2.dispose();
    for (const p of params) p.zeroGrad();
    expect(rt.pool.counters.bytesLive).toBe(baseline);
  });

  it('records nothing without grad, and frees intermediates', async () => {
    const w = new Param(rt.upload([1, 2, 3, 4], [2, 2]));
    const baseline = rt.pool.counters.bytesLive;
    const tape = new Tape(rt, false, false);
    const y = F.relu(tape, F.linear(tape, tape.constant(rt.upload([1, -1], [1, 2])), w));
    expect(y.requiresGrad).toBe(false);
    expect(Array.from(await rt.read(y.value))).toEqual([0, 0]);
    expect(() => tape.backward(y)).toThrow(/backward: expected a tape recorded with grad: true/);
    tape.dispose();
    expect(rt.pool.counters.bytesLive).toBe(baseline);
    expect(w.grad).toBeNull();
  });
});
