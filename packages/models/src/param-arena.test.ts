import { Rng, Runtime } from '@crnn/core';
import { Adam, clipGradNorm } from '@crnn/kernels';
import { randomArray, sameBitsOrClose } from '@crnn/kernels/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tape } from './autograd.js';
import type { Recognizer } from './crnn.js';
import * as F from './ops.js';
import { ParamArena } from './param-arena.js';
import { buildModel } from './zoo.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

const [N, H, W] = [2, 16, 64];

/** Forward, CTC loss and backward of one seeded batch: leaves gradients in the parameters. */
function backward(model: Recognizer, step: number): void {
  const rng = new Rng(100 + step);
  const tape = new Tape(rt, true, true, step);
  try {
    const x = tape.constant(rt.upload(randomArray(rng, N * H * W, 0, 1), [N, 1, H, W]));
    const logits = model.forward(tape, x);
    const [T] = logits.shape as [number, number, number];
    const loss = F.ctcLoss(tape, logits, { targets: [1, 2, 3, 4, 5, 6], inputLengths: [T, T], targetLengths: [3, 3], zeroInfinity: true });
    tape.backward(loss);
  } finally {
    tape.dispose();
  }
}

describe('ParamArena', () => {
  it('packs the parameters as aligned views of one buffer with the same values; a weight load unpacks one', async () => {
    const model = buildModel(rt, 'crnn-lite', { numClasses: 11, height: H, width: W }, 3);
    const params = model.parameters();
    const before = await rt.readMany(params.map((p) => p.value));
    const arena = ParamArena.pack(rt, params);
    expect(arena.holds(params)).toBe(true);
    expect(new Set(params.map((p) => p.value.storage)).size).toBe(1);
    const align = rt.device.limits.minStorageBufferOffsetAlignment;
    params.forEach((p, i) => expect(p.value.byteOffset % align, `params[${i}] offset`).toBe(0));
    const after = await rt.readMany(params.map((p) => p.value));
    after.forEach((a, i) => expect(Array.from(a), `params[${i}]`).toEqual(Array.from(before[i]!)));
    // writeGrad puts host data into the slot; adoptGrads moves a tensor of its own there.
    arena.writeGrad(params[0]!, new Float32Array(params[0]!.value.size).fill(2));
    params[1]!.grad = rt.upload(new Float32Array(params[1]!.value.size).fill(3), params[1]!.value.shape);
    arena.adoptGrads();
    expect(params[1]!.grad.storage).toBe(params[0]!.grad!.storage);
    const [g0, g1] = await rt.readMany([params[0]!.grad!, params[1]!.grad]);
    expect(g0!.every((v) => v === 2) && g1!.every((v) => v === 3)).toBe(true);
    expect(() => arena.writeGrad(params[0]!, [1, 2])).toThrow(/param_arena.write_grad: expected \d+ values for '.+' \[.+\], found 2 values/);
    const stranger = buildModel(rt, 'crnn-lite', { numClasses: 11, height: H, width: W }, 5);
    const p0 = stranger.parameters()[0]!;
    expect(() => arena.writeGrad(p0, new Float32Array(p0.value.size))).toThrow(/param_arena.write_grad: expected a parameter of this arena/);
    stranger.dispose();
    const [name] = model.namedParameters()[2]!;
    model.assign(name, rt.zeros(params[2]!.value.shape));
    expect(arena.holds(model.parameters())).toBe(false);
    model.zeroGrad();
    arena.dispose();
    model.dispose();
  });

  it('clip and Adam over the packed model give the weights and state of the unpacked one, in 3 + 1 dispatches', async () => {
    const run = async (packed: boolean) => {
      const model = buildModel(rt, 'crnn-lite', { numClasses: 11, height: H, width: W }, 4);
      const params = model.parameters();
      const arena = packed ? ParamArena.pack(rt, params) : null;
      const opt = new Adam({ lr: 0.01, weightDecay: 0.001 });
      const dispatches: number[] = [];
      for (let step = 0; step < 3; step++) {
        model.zeroGrad();
        backward(model, step);
        arena?.adoptGrads();
        await rt.readMany([params[0]!.grad!]);
        const d0 = rt.stats().dispatches;
        // A max_norm the first step's gradients exceed, so that the scale runs.
        clipGradNorm(rt, params.map((p) => p.grad!), 0.05).dispose();
        opt.step(rt, params.map((p) => p.value), params.map((p) => p.grad!));
        dispatches.push(rt.stats().dispatches - d0);
      }
      const out = await rt.readMany([...params.map((p) => p.value), ...opt.stateDict().tensors.map((d) => d.tensor)]);
      opt.dispose();
      arena?.dispose();
      model.dispose();
      return { out, dispatches };
    };
    const packed = await run(true);
    const plain = await run(false);
    packed.out.forEach((t, k) => expect(sameBitsOrClose(rt, t, plain.out[k]!, `tensor ${k}`)).toBe(''));
    // partial_table, finish, scale4; one main4 for Adam.
    expect(packed.dispatches).toEqual([4, 4, 4]);
    expect(plain.dispatches[0]).toBeGreaterThan(40);
  });
});
