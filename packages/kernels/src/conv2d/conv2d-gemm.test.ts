import { OpInputError, Runtime } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conv2d, conv2dBackward, conv2dKernelFor } from './conv2d.js';
import { adapterView, DEFAULT_BUFFER_LIMITS } from '../testing.js';
import { checkAgainstRef, geom, SWEEP } from './conv2d.testing.js';

// The GEMM form (conv2d-gemm.wgsl's im2col / col2im around one matmul per part) against the
// float64 reference over the whole sweep: 1x1, 2x2, 4x3, 3x5, 9x9 kernels, strides and
// paddings per axis. Finite differences and accumulation are in conv2d.test.ts.
let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

describe('conv2d gemm', () => {
  it('matches the reference over the sweep (forward, dx, dw, db)', async () => {
    for (const [i, gg] of SWEEP.entries()) await checkAgainstRef(rt, geom(gg), 'gemm', 600 + i);
  });

  it('2x2 kernels at stride 1 (the vec4 im2col22 / col2im22 entries) match the reference with padding per axis', async () => {
    // [N, C, H, W, O, KH, KW, SH, SW, PH, PW]; the sweep's 2x2 cases have no padding.
    const cases: Array<[number, number, number, number, number, number, number, number, number, number, number]> = [
      [2, 6, 4, 7, 5, 2, 2, 1, 1, 1, 0],
      [1, 3, 5, 6, 4, 2, 2, 1, 1, 0, 2],
      [1, 4, 3, 3, 3, 2, 2, 1, 1, 2, 1],
      [2, 8, 2, 25, 8, 2, 2, 1, 1, 0, 0], // the CRNN's last layer, narrower
    ];
    for (const [i, gg] of cases.entries()) await checkAgainstRef(rt, geom(gg), 'gemm', 700 + i);
  });

  it("'auto' takes it where it was measured fastest: dx and dw of wide layers with long reductions on software adapters, every part from 64 columns and channels on GPUs", async () => {
    // The choice reads rt.info.isSoftware and the device's limits: both rules are checked on
    // any adapter through views of this runtime (adapterView).
    const as = (isSoftware: boolean, binding?: number) => adapterView(rt, isSoftware, binding);
    const x = rt.zeros([8, 512, 2, 25]);
    const w = rt.zeros([512, 512, 2, 2]);
    const image = rt.zeros([8, 1, 32, 100]);
    const w1 = rt.zeros([64, 1, 3, 3]);
    for (const sw of [true, false]) {
      const r = as(sw);
      const at = `isSoftware ${sw}`;
      // The CRNN's last convolution: 512 -> 512, 2x2, at 2x25.
      expect(conv2dKernelFor(r, x, w, {}, 'dx'), at).toBe('gemm');
      expect(conv2dKernelFor(r, x, w, {}, 'dw'), at).toBe('gemm');
      // On software adapters its forward takes Winograd F(2, 2) along the rows (conv2d-winograd-x.test.ts).
      expect(conv2dKernelFor(r, x, w, {}), at).toBe(sw ? 'winograd-x' : 'gemm');
      // 256 channels keep the direct-form kernels on software adapters; 3x3 layers that Winograd covers take it.
      expect(conv2dKernelFor(r, rt.zeros([8, 256, 2, 25]), rt.zeros([256, 256, 2, 2]), {}, 'dw'), at).toBe(sw ? 'fast' : 'gemm');
      expect(conv2dKernelFor(r, rt.zeros([1, 512, 4, 6]), rt.zeros([512, 512, 3, 3]), { padding: 1 }, 'dw'), at).toBe(sw ? 'winograd' : 'gemm');
      // The first layer (C*KH*KW = 9) and layers of fewer than 64 output channels keep them everywhere.
      expect(conv2dKernelFor(r, image, w1, { padding: 1 }), at).toBe('fast');
      expect(conv2dKernelFor(r, image, w1, { padding: 1 }, 'dw'), at).toBe('fast');
      expect(conv2dKernelFor(r, rt.zeros([8, 64, 8, 8]), rt.zeros([32, 64, 3, 3]), { padding: 1 }), at).toBe('fast');
    }
    // On GPUs only while col stays within 256 MiB, whatever the binding limit (2 GiB here):
    // [8 * 64 * 200, 64 * 9] floats is 236 MB, and twice that is not.
    const w64 = rt.zeros([64, 64, 3, 3]);
    const big = [rt.zeros([8, 64, 64, 200]), rt.zeros([16, 64, 64, 200])] as const;
    expect(conv2dKernelFor(as(false, 2 ** 31), big[0], w64, { padding: 1 })).toBe('gemm');
    expect(conv2dKernelFor(as(false, 2 ** 31), big[1], w64, { padding: 1 })).toBe('fast');
    for (const t of [image, w1, w64, ...big]) t.dispose();
    // And it computes the same as the reference on a smaller layer of the kind (forced).
    await checkAgainstRef(rt, geom([2, 64, 2, 9, 40, 2, 2, 1, 1, 0, 0]), 'gemm', 650);
  });

  it('a NaN reaches exactly the outputs whose window covers it', async () => {
    // 2x2 kernel, no padding: the NaN at input (1, 2) reaches outputs (0..1, 1..2).
    const x = new Float32Array(3 * 16).fill(0.5);
    x[1 * 4 + 2] = NaN;
    const y = await rt.read(conv2d(rt, rt.upload(x, [1, 3, 4, 4]), rt.upload(new Float32Array(2 * 3 * 4).fill(0.1), [2, 3, 2, 2]), undefined, { kernel: 'gemm' }));
    for (let o = 0; o < 2; o++) {
      for (let r = 0; r < 3; r++) {
        for (let c = 0; c < 3; c++) {
          const covers = r <= 1 && c >= 1 && c <= 2;
          expect(Number.isNaN(y[(o * 3 + r) * 3 + c]!), `y[${o}, ${r}, ${c}]`).toBe(covers);
        }
      }
    }
  });

  it('rejects columns that would not fit one storage binding, before any dispatch', async () => {
    // col [64 * 64, 64 * 15 * 15] floats: 236 MB, over the default 128 MiB binding (a runtime
    // with WebGPU's default limits, whatever the adapter's maximum).
    const rt = await Runtime.create({ limitCaps: DEFAULT_BUFFER_LIMITS });
    const x = rt.zeros([1, 64, 64, 64]);
    const w = rt.zeros([1, 64, 15, 15]);
    const before = rt.stats().dispatches;
    const re = /conv2d(_backward)?: expected kernel 'gemm' to apply \(columns \[N\*OH\*OW, C\*KH\*KW\] within one storage binding; .*\), found columns \[4096, 14400\], N 1, H 64, OH 64, C 64/;
    expect(() => conv2d(rt, x, w, undefined, { padding: 7, kernel: 'gemm' })).toThrow(OpInputError);
    expect(() => conv2d(rt, x, w, undefined, { padding: 7, kernel: 'gemm' })).toThrow(re);
    expect(() => conv2dBackward(rt, rt.zeros([1, 1, 64, 64]), x, w, { padding: 7, kernel: 'gemm' })).toThrow(re);
    expect(rt.stats().dispatches).toBe(before);
    // 'auto' does not take it there.
    expect(conv2dKernelFor(rt, x, w, { padding: 7 }, 'dw')).not.toBe('gemm');
    rt.destroy();
  });
});
