import { OpInputError, Rng, Runtime } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asF32, assertClose, randomArray } from '../testing.js';
import { conv2d, conv2dBackward, conv2dKernelFor } from './conv2d.js';
import { conv2dBackwardRef, conv2dRef } from './conv2d.ref.js';
import { checkAgainstRef, geom, optsOf, TOL, type G } from './conv2d.testing.js';
import { winogradTuning } from './winograd-tuning.js';

// The Winograd F(2, 2) path along rows (conv2d-winograd-x.wgsl + 3 matmuls) against the float64
// reference: the forward and dw (the transposed algorithm, summed over chunks of tiles); it has
// no dx, and db (sum_axes) is checked alongside as auto does it.
let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

const NO_DX = { x: false, w: true, b: true };

// [n, c, h, w, o, kh, 2, sh, 1, ph, pw]: C * KH a multiple of 4 and not (the two weight
// entries), output widths odd (a last tile with one output) and even, multiples of 8 (the vec4
// output entry) and not, one output column, kernel heights 1 to 4, row stride 2, paddings per axis.
const SWEEP: G[] = [
  [2, 4, 5, 7, 4, 2, 2, 1, 1, 0, 0],
  [1, 3, 4, 9, 5, 2, 2, 1, 1, 1, 1],
  [3, 5, 3, 17, 6, 1, 2, 1, 1, 0, 1],
  [2, 8, 6, 17, 8, 3, 2, 2, 1, 1, 0],
  [1, 16, 2, 25, 12, 2, 2, 1, 1, 0, 0],
  [2, 4, 3, 2, 4, 2, 2, 1, 1, 0, 0],
  [1, 6, 5, 9, 3, 4, 2, 1, 1, 2, 3],
];

describe('conv2d winograd-x', () => {
  it('matches the reference over the sweep', async () => {
    for (const [i, gg] of SWEEP.entries()) {
      const [x, w] = [rt.zeros([gg[0], gg[1], gg[2], gg[3]]), rt.zeros([gg[4], gg[1], gg[5], gg[6]])];
      expect(conv2dKernelFor(rt, x, w, optsOf(geom(gg), 'winograd-x'))).toBe('winograd-x');
      for (const t of [x, w]) t.dispose();
      await checkAgainstRef(rt, geom(gg), 'winograd-x', 700 + i, NO_DX);
    }
  });

  it('cuts the tiles into chunks (of whole vec4s of tiles) when V or M would not fit one binding (dw sums over them)', async () => {
    // 4 tiles per chunk: with 5 tiles per row (OW 9) and 3 rows per image, chunks end inside
    // rows and images; with OW 16 (output4) inside images.
    winogradTuning.maxTiles = 4;
    try {
      await checkAgainstRef(rt, geom([3, 4, 4, 10, 4, 2, 2, 1, 1, 0, 0]), 'winograd-x', 720, NO_DX);
      await checkAgainstRef(rt, geom([2, 6, 3, 17, 5, 2, 2, 1, 1, 1, 0]), 'winograd-x', 721, NO_DX);
    } finally {
      winogradTuning.maxTiles = 0;
    }
  });

  it('adds dw into a given gradient (accumulate), over several chunks', async () => {
    const rng = new Rng(750);
    // C*KH = 6 (dw_out, float by float) and 8 (dw_out4, vec4).
    for (const gg of [[2, 3, 4, 9, 5, 2, 2, 1, 1, 1, 1], [2, 4, 4, 9, 5, 2, 2, 1, 1, 1, 1]] as G[]) {
      const g = geom(gg);
      const [oh, ow] = [g.h + 1, g.w + 1];
      const x = asF32(randomArray(rng, g.n * g.c * g.h * g.w));
      const w = asF32(randomArray(rng, g.o * g.c * 4));
      const dy = asF32(randomArray(rng, g.n * g.o * oh * ow));
      const prior = asF32(randomArray(rng, g.o * g.c * 4));
      winogradTuning.maxTiles = 8;
      try {
        const acc = rt.upload(prior, [g.o, g.c, 2, 2]);
        conv2dBackward(rt, rt.upload(dy, [g.n, g.o, oh, ow]), rt.upload(x, [g.n, g.c, g.h, g.w]), rt.upload(w, [g.o, g.c, 2, 2]), optsOf(g, 'winograd-x'), { w: true }, { dw: acc });
        const want = conv2dBackwardRef(dy, x, w, g).dw.map((v, i) => v + prior[i]!);
        assertClose(await rt.read(acc), want, TOL, `winograd-x dw accumulated ${JSON.stringify(gg)}`);
      } finally {
        winogradTuning.maxTiles = 0;
      }
    }
  });

  it("'auto' takes it for the CRNN's 512 -> 512 2x2 forward (and dw with enough tiles) on software adapters (GPUs take the GEMM form), and matches the reference", async () => {
    const g = geom([1, 512, 2, 25, 512, 2, 2, 1, 1, 0, 0]);
    const x = rt.zeros([1, 512, 2, 25]);
    const w = rt.zeros([512, 512, 2, 2]);
    expect(conv2dKernelFor(rt, x, w)).toBe(rt.info.isSoftware ? 'winograd-x' : 'gemm');
    expect(conv2dKernelFor(rt, x, w, {}, 'dx')).not.toBe('winograd-x');
    // dw from 192 tiles (pairs of outputs) up: batch 16 at 2x25 has 16 * 12.
    const x16 = rt.zeros([16, 512, 2, 25]);
    expect(conv2dKernelFor(rt, x16, w, {}, 'dw')).toBe(rt.info.isSoftware ? 'winograd-x' : 'gemm');
    expect(conv2dKernelFor(rt, rt.zeros([8, 512, 2, 25]), w, {}, 'dw')).not.toBe('winograd-x');
    // Narrow layers keep the direct-form kernel.
    expect(conv2dKernelFor(rt, rt.zeros([1, 128, 2, 25]), rt.zeros([128, 128, 2, 2]))).not.toBe('winograd-x');
    // K = 1024 per output: matmul's whole window width; M rows of 512 channels.
    await checkAgainstRef(rt, g, 'auto', 730, NO_DX);
    for (const t of [x, w, x16]) t.dispose();
  });

  it('a NaN reaches exactly the outputs whose window covers it, and nothing hangs', async () => {
    // Input column 4 lies in tile 1 (columns 2..4) as its d2 and in tile 2 as its d0: outputs 3
    // and 4 in the direct form. V0 = d0 - d1 feeds output 0 only, V2 = d2 - d1 output 1 only.
    const [c, h, wd, o] = [4, 3, 9, 4];
    for (const col of [3, 4]) {
      const x = new Float32Array(c * h * wd).fill(0.5);
      x[wd + col] = NaN; // channel 0, row 1
      const y = await rt.read(conv2d(rt, rt.upload(x, [1, c, h, wd]), rt.upload(new Float32Array(o * c * 4).fill(0.1), [o, c, 2, 2]), undefined, { kernel: 'winograd-x' }));
      for (let oc = 0; oc < o; oc++) {
        for (let r = 0; r < h - 1; r++) {
          for (let q = 0; q < wd - 1; q++) {
            const covers = (r === 0 || r === 1) && (q === col - 1 || q === col);
            expect(Number.isNaN(y[(oc * (h - 1) + r) * (wd - 1) + q]!), `NaN at column ${col}: y[${oc}, ${r}, ${q}]`).toBe(covers);
          }
        }
      }
    }
  });

  it("K's padding (C*KH = 6 -> 8) reads nothing past the image: a NaN in image 1 leaves image 0 finite", async () => {
    // Padding entries k = 6, 7 would be channel 3 of image 0, that is channel 0 of image 1.
    const [n, c, h, wd, o] = [2, 3, 3, 9, 4];
    const x = new Float32Array(n * c * h * wd).fill(0.5);
    const nanAt = (1 * c + 0) * h * wd + 1 * wd + 4; // image 1, channel 0, row 1, column 4
    x[nanAt] = NaN;
    const tx = rt.upload(x, [n, c, h, wd]);
    const y = await rt.read(conv2d(rt, tx, rt.upload(new Float32Array(o * c * 4).fill(0.1), [o, c, 2, 2]), undefined, { kernel: 'winograd-x' }));
    const plane = (h - 1) * (wd - 1);
    for (let i = 0; i < n * o * plane; i++) {
      const img = Math.floor(i / (o * plane));
      const r = Math.floor((i % plane) / (wd - 1));
      const q = i % (wd - 1);
      const covers = img === 1 && (r === 0 || r === 1) && (q === 3 || q === 4);
      expect(Number.isNaN(y[i]!), `y index ${i} (image ${img}, row ${r}, column ${q})`).toBe(covers);
    }
    const dy = rt.upload(new Float32Array(n * o * plane).fill(1), [n, o, h - 1, wd - 1]);
    const { dw } = conv2dBackward(rt, dy, tx, rt.zeros([o, c, 2, 2]), { kernel: 'winograd-x' }, { w: true });
    // Channel 0's taps see the NaN; channels 1 and 2 do not.
    const g = await rt.read(dw!);
    for (let i = 0; i < g.length; i++) expect(Number.isNaN(g[i]!), `dw index ${i}`).toBe(Math.floor(i / 4) % c === 0);
  });

  it('rejects what it does not cover with OpInputError, before any dispatch', () => {
    const x = rt.zeros([1, 4, 6, 6]);
    const before = rt.stats().dispatches;
    const cases: Array<[() => unknown, RegExp]> = [
      [() => conv2d(rt, x, rt.zeros([4, 4, 3, 3]), undefined, { kernel: 'winograd-x' }), /conv2d: expected kernel 'winograd-x' to apply .*, found kernel 3x3/],
      [() => conv2d(rt, x, rt.zeros([4, 4, 2, 1]), undefined, { kernel: 'winograd-x' }), /found kernel 2x1/],
      [() => conv2d(rt, x, rt.zeros([4, 4, 2, 2]), undefined, { stride: [1, 2], kernel: 'winograd-x' }), /column stride 2/],
      [() => conv2dBackward(rt, rt.zeros([1, 4, 5, 5]), x, rt.zeros([4, 4, 2, 2]), { kernel: 'winograd-x' }), /conv2d_backward: expected kernel 'winograd-x' to apply .*, found the dx part/],
      [() => conv2dBackward(rt, rt.zeros([1, 4, 5, 3]), x, rt.zeros([4, 4, 2, 2]), { stride: [1, 2], kernel: 'winograd-x' }, { w: true }), /conv2d_backward: .*column stride 2/],
    ];
    for (const [f, re] of cases) {
      expect(f).toThrow(OpInputError);
      expect(f).toThrow(re);
    }
    expect(rt.stats().dispatches).toBe(before);
  });

  it('gives the same bits on every run (no dependence on leftover buffer contents)', async () => {
    // V's padding columns (C*KH = 6 -> 8) and tiles past the last come from the kernel, not from
    // whatever a pooled buffer held: fill the pool with NaN first.
    const junk = rt.upload(new Float32Array(1 << 16).fill(NaN), [1 << 16]);
    junk.dispose();
    const rng = new Rng(740);
    const g = geom([1, 3, 4, 9, 5, 2, 2, 1, 1, 1, 1]);
    const x = asF32(randomArray(rng, 3 * 4 * 9));
    const w = asF32(randomArray(rng, 5 * 3 * 4));
    const y = await rt.read(conv2d(rt, rt.upload(x, [1, 3, 4, 9]), rt.upload(w, [5, 3, 2, 2]), undefined, optsOf(g, 'winograd-x')));
    assertClose(y, conv2dRef(x, w, null, g), TOL, 'winograd-x after NaN junk');
  });
});
