import { OpInputError, Rng, Runtime } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asF32, assertClose, DEFAULT_BUFFER_LIMITS, dot, finiteDiff, randomArray } from '../testing.js';
import { conv2d, conv2dBackward, conv2dKernelFor } from './conv2d.js';
import { conv2dBackwardRef, conv2dRef, outSize } from './conv2d.ref.js';
import { checkAgainstRef, geom, hasFastKernels, optsOf, TOL, type G } from './conv2d.testing.js';
import { winogradTuning } from './winograd-tuning.js';

// The Winograd F(2x2, 3x3) path (conv2d-winograd.wgsl + 16 matmuls) against the float64
// reference: forward, dx (dx of any stride is a stride-1 convolution of the dilated dy) and dw
// (the transposed algorithm F(3x3, 2x2), summed over chunks of tiles).
let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

// [n, c, h, w, o, 3, 3, 1, 1, ph, pw]: odd and even output sizes (partial tiles at the bottom
// and right edges), paddings 0 to 2 and per axis, one output row or column.
const SWEEP: G[] = [
  [2, 4, 5, 7, 4, 3, 3, 1, 1, 1, 1],
  [1, 8, 6, 6, 12, 3, 3, 1, 1, 0, 0],
  [3, 4, 9, 4, 8, 3, 3, 1, 1, 2, 2],
  [1, 12, 3, 10, 4, 3, 3, 1, 1, 0, 1],
  [2, 4, 8, 25, 8, 3, 3, 1, 1, 1, 1],
  [1, 4, 1, 9, 4, 3, 3, 1, 1, 1, 0],
];

describe('conv2d winograd', () => {
  it('matches the reference over the sweep (forward, dx, dw; db as auto)', async () => {
    for (const [i, gg] of SWEEP.entries()) await checkAgainstRef(rt, geom(gg), 'winograd', 500 + i);
  });

  it('cuts the batch into chunks of tiles when V or M would not fit one binding', async () => {
    // 7 tiles per chunk: chunks end inside an image and inside a tile row.
    winogradTuning.maxTiles = 7;
    try {
      await checkAgainstRef(rt, geom([3, 8, 5, 9, 4, 3, 3, 1, 1, 1, 1]), 'winograd', 540);
    } finally {
      winogradTuning.maxTiles = 0;
    }
  });

  it('dx of strided convolutions (the dilated dy) matches the reference', async () => {
    const rng = new Rng(510);
    for (const gg of [[2, 4, 8, 9, 8, 3, 3, 2, 2, 1, 1], [1, 8, 7, 11, 4, 3, 3, 2, 3, 0, 2], [1, 4, 9, 9, 4, 3, 3, 3, 1, 3, 1]] as G[]) {
      const g = geom(gg);
      const [oh, ow] = outSize(g);
      const x = asF32(randomArray(rng, g.n * g.c * g.h * g.w));
      const w = asF32(randomArray(rng, g.o * g.c * 9));
      const dy = asF32(randomArray(rng, g.n * g.o * oh * ow));
      const opts = optsOf(g, 'winograd');
      const tx = rt.upload(x, [g.n, g.c, g.h, g.w]);
      const tw = rt.upload(w, [g.o, g.c, 3, 3]);
      expect(conv2dKernelFor(rt, tx, tw, opts, 'dx')).toBe('winograd');
      const { dx } = conv2dBackward(rt, rt.upload(dy, [g.n, g.o, oh, ow]), tx, tw, opts, { x: true });
      assertClose(await rt.read(dx!), conv2dBackwardRef(dy, x, w, g).dx, TOL, `winograd dx ${JSON.stringify(gg)}`);
    }
  });

  it('GPU forward, dx and dw match finite differences on a tiny shape', async () => {
    const rng = new Rng(520);
    const g = geom([1, 4, 4, 5, 4, 3, 3, 1, 1, 1, 1]);
    const [oh, ow] = outSize(g);
    const x = asF32(randomArray(rng, g.n * g.c * g.h * g.w));
    const w = asF32(randomArray(rng, g.o * g.c * 9));
    const b = asF32(randomArray(rng, g.o));
    const dy = asF32(randomArray(rng, g.n * g.o * oh * ow));
    const tx = rt.upload(x, [g.n, g.c, g.h, g.w]);
    const tw = rt.upload(w, [g.o, g.c, 3, 3]);
    const opts = optsOf(g, 'winograd');
    // The GPU forward first (so that the finite differences below are of a checked function).
    assertClose(await rt.read(conv2d(rt, tx, tw, rt.upload(b, [g.o]), opts)), conv2dRef(x, w, b, g), TOL, 'winograd y');
    const { dx, dw } = conv2dBackward(rt, rt.upload(dy, [g.n, g.o, oh, ow]), tx, tw, opts, { x: true, w: true });
    const fd = finiteDiff((xx) => dot(conv2dRef(xx, w, b, g), dy), Float64Array.from(x));
    assertClose(await rt.read(dx!), fd, { rtol: 1e-3, atol: 1e-4 }, 'winograd gpu dx vs fd');
    const fdw = finiteDiff((ww) => dot(conv2dRef(x, ww, b, g), dy), Float64Array.from(w));
    assertClose(await rt.read(dw!), fdw, { rtol: 1e-3, atol: 1e-4 }, 'winograd gpu dw vs fd');
  });

  it('dw accumulates into an existing gradient, also over chunks of tiles', async () => {
    const rng = new Rng(525);
    const g = geom([3, 8, 5, 9, 12, 3, 3, 1, 1, 1, 1]);
    const [oh, ow] = outSize(g);
    const x = asF32(randomArray(rng, g.n * g.c * g.h * g.w));
    const w = asF32(randomArray(rng, g.o * g.c * 9));
    const dy = asF32(randomArray(rng, g.n * g.o * oh * ow));
    const dw0 = asF32(randomArray(rng, w.length));
    const want = conv2dBackwardRef(dy, x, w, g).dw.map((v, i) => v + dw0[i]!);
    for (const maxTiles of [0, 7]) {
      winogradTuning.maxTiles = maxTiles;
      try {
        const acc = rt.upload(dw0, [g.o, g.c, 3, 3]);
        const gr = conv2dBackward(rt, rt.upload(dy, [g.n, g.o, oh, ow]), rt.upload(x, [g.n, g.c, g.h, g.w]), rt.upload(w, [g.o, g.c, 3, 3]), optsOf(g, 'winograd'), { w: true }, { dw: acc });
        expect(gr.dw).toBe(acc);
        assertClose(await rt.read(acc), want, TOL, `winograd accumulated dw, maxTiles ${maxTiles}`);
      } finally {
        winogradTuning.maxTiles = 0;
      }
    }
  });

  it("'auto' takes it for wide 3x3 layers on software adapters (GPUs take the GEMM form), and matches the reference", async () => {
    const g = geom([2, 128, 6, 9, 128, 3, 3, 1, 1, 1, 1]);
    const x = rt.zeros([g.n, g.c, g.h, g.w]);
    const w = rt.zeros([g.o, g.c, 3, 3]);
    const want = rt.info.isSoftware ? 'winograd' : 'gemm';
    expect(conv2dKernelFor(rt, x, w, { padding: 1 }), 'forward').toBe(want);
    expect(conv2dKernelFor(rt, x, w, { padding: 1 }, 'dx'), 'dx').toBe(want);
    expect(conv2dKernelFor(rt, x, w, { padding: 1 }, 'dw'), 'dw').toBe(want);
    // Narrow layers keep the direct-form kernels on software adapters (the matmuls would run
    // too far under peak there).
    const narrow = rt.info.isSoftware ? 'fast' : 'gemm';
    expect(conv2dKernelFor(rt, rt.zeros([1, 64, 6, 9]), rt.zeros([128, 64, 3, 3]), { padding: 1 })).toBe(narrow);
    expect(conv2dKernelFor(rt, x, rt.zeros([64, 128, 3, 3]), { padding: 1 }, 'dx')).toBe(narrow);
    // Long reductions (K = 1152 per output), several matmul windows.
    await checkAgainstRef(rt, g, 'auto', 530, { x: true, w: true, b: false });
  });

  it('batches small plane products into one dispatch on software adapters, with the same bits as one matmul per plane', async () => {
    // crnn-lite's 128 -> 128 layer at 2x20 (tiles of whole planes: one batched matmul each for
    // the forward, dx and dw) and a chunked, accumulated dw with c = o = 16 (chunks of 8 tiles
    // batch, the last, shorter chunk's planes do not lie back to back and go plane by plane).
    const batches = rt.info.isSoftware && hasFastKernels(rt);
    const cases: Array<[G, number]> = [
      [[2, 128, 2, 20, 128, 3, 3, 1, 1, 1, 1], 0],
      [[3, 16, 5, 9, 16, 3, 3, 1, 1, 1, 1], 8],
    ];
    for (const [i, [gg, maxTiles]] of cases.entries()) {
      const g = geom(gg);
      const [oh, ow] = outSize(g);
      const rng = new Rng(560 + i);
      const tx = rt.upload(asF32(randomArray(rng, g.n * g.c * g.h * g.w)), [g.n, g.c, g.h, g.w]);
      const tw = rt.upload(asF32(randomArray(rng, g.o * g.c * 9)), [g.o, g.c, 3, 3]);
      const tdy = rt.upload(asF32(randomArray(rng, g.n * g.o * oh * ow)), [g.n, g.o, oh, ow]);
      const dw0 = rt.upload(asF32(randomArray(rng, g.o * g.c * 9)), [g.o, g.c, 3, 3]);
      const run = async (batch: boolean) => {
        winogradTuning.batchPlanes = batch;
        winogradTuning.maxTiles = maxTiles;
        try {
          const before = rt.stats().dispatches;
          const y = conv2d(rt, tx, tw, undefined, optsOf(g, 'winograd'));
          const acc = rt.empty(dw0.shape);
          rt.copy(dw0, acc);
          const gr = conv2dBackward(rt, tdy, tx, tw, optsOf(g, 'winograd'), { x: true, w: true }, { dw: acc });
          const dispatches = rt.stats().dispatches - before;
          const host = await rt.readMany([y, gr.dx!, acc]);
          for (const t of [y, gr.dx!, acc]) t.dispose();
          return { host, dispatches };
        } finally {
          winogradTuning.batchPlanes = true;
          winogradTuning.maxTiles = 0;
        }
      };
      const one = await run(false);
      const batched = await run(true);
      ['y', 'dx', 'dw'].forEach((name, k) => {
        const [got, want] = [batched.host[k]!, one.host[k]!];
        for (let j = 0; j < want.length; j++) {
          if (!Object.is(got[j], want[j])) throw new Error(`${name} ${JSON.stringify(gg)}: index ${j}: got ${got[j]}, want ${want[j]} (one matmul per plane)`);
        }
      });
      if (batches) expect(batched.dispatches, JSON.stringify(gg)).toBeLessThan(one.dispatches - 15);
      else expect(batched.dispatches).toBe(one.dispatches);
      for (const t of [tx, tw, tdy, dw0]) t.dispose();
    }
    // And against the float64 reference, batched.
    await checkAgainstRef(rt, geom([2, 128, 2, 20, 128, 3, 3, 1, 1, 1, 1]), 'winograd', 565);
  });

  it('a NaN reaches exactly the outputs whose window covers it, and nothing hangs', async () => {
    // Output (r, c) of a tile uses only the 3x3 inputs of its own window (Aᵀ's row 0 skips the
    // block's last row and column of M, row 1 its first), so the direct form's NaN pattern
    // holds: the NaN at input (2, 3), padded (3, 4), reaches rows 1..3 and columns 2..4.
    const x = new Float32Array(4 * 36).fill(0.5);
    x[2 * 6 + 3] = NaN;
    const y = await rt.read(conv2d(rt, rt.upload(x, [1, 4, 6, 6]), rt.upload(new Float32Array(4 * 4 * 9).fill(0.1), [4, 4, 3, 3]), undefined, { padding: 1, kernel: 'winograd' }));
    for (let o = 0; o < 4; o++) {
      for (let r = 0; r < 6; r++) {
        for (let c = 0; c < 6; c++) {
          const covers = r >= 1 && r <= 3 && c >= 2 && c <= 4;
          expect(Number.isNaN(y[(o * 6 + r) * 6 + c]!), `y[${o}, ${r}, ${c}]`).toBe(covers);
        }
      }
    }
  });

  it('rejects shapes it does not cover with OpInputError, before any dispatch', () => {
    const x = rt.zeros([1, 4, 6, 6]);
    const before = rt.stats().dispatches;
    const cases: Array<[() => unknown, RegExp]> = [
      [() => conv2d(rt, x, rt.zeros([4, 4, 5, 5]), undefined, { kernel: 'winograd' }), /conv2d: expected kernel 'winograd' to apply/],
      [() => conv2d(rt, x, rt.zeros([4, 4, 3, 3]), undefined, { stride: 2, kernel: 'winograd' }), /conv2d: expected kernel 'winograd' to apply/],
      [() => conv2d(rt, x, rt.zeros([6, 4, 3, 3]), undefined, { kernel: 'winograd' }), /conv2d: expected kernel 'winograd' to apply/],
      [() => conv2d(rt, rt.zeros([1, 3, 6, 6]), rt.zeros([4, 3, 3, 3]), undefined, { kernel: 'winograd' }), /conv2d: expected kernel 'winograd' to apply/],
      [() => conv2dBackward(rt, rt.zeros([1, 6, 4, 4]), x, rt.zeros([6, 4, 3, 3]), { kernel: 'winograd' }), /conv2d_backward: expected kernel 'winograd' to apply/],
      // dx of a strided convolution is covered, its dw is not.
      [() => conv2dBackward(rt, rt.zeros([1, 4, 2, 2]), x, rt.zeros([4, 4, 3, 3]), { stride: 2, kernel: 'winograd' }, { w: true }), /conv2d_backward: expected kernel 'winograd' to apply/],
      [() => conv2d(rt, x, rt.zeros([4, 4, 3, 3]), undefined, { kernel: 'tiled' as never }), /conv2d: expected kernel one of auto, fast, direct, winograd, winograd-x, gemm, found 'tiled'/],
    ];
    for (const [f, re] of cases) {
      expect(f).toThrow(OpInputError);
      expect(f).toThrow(re);
    }
    expect(rt.stats().dispatches).toBe(before);
  });

  it('leaves layers whose 16 weight planes exceed one storage binding to the other kernels', async () => {
    // 1536 -> 1536: U (and dw's M) would be 16 x 1536² floats, 144 MiB; the default binding
    // holds 128 (a runtime with WebGPU's default limits, whatever the adapter's maximum).
    const rt = await Runtime.create({ limitCaps: DEFAULT_BUFFER_LIMITS });
    const lim = rt.device.limits;
    expect(16 * 1536 * 1536 * 4).toBeGreaterThan(Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize));
    const x = rt.zeros([1, 1536, 4, 4]);
    const w = rt.zeros([1536, 1536, 3, 3]);
    for (const part of ['forward', 'dx', 'dw'] as const) {
      expect(conv2dKernelFor(rt, x, w, { padding: 1 }, part), part).not.toBe('winograd');
      expect(() => conv2dKernelFor(rt, x, w, { padding: 1, kernel: 'winograd' }, part), part).toThrow(/16 weight planes within one storage binding/);
    }
    rt.destroy();
  });
});
