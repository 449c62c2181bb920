import { Runtime } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAgainstRef, FAST_SWEEP, geom, hasFastKernels, SWEEP } from './conv2d.testing.js';

// The fast (subgroup) kernels against the float64 reference. Their pipelines take a second or
// two each to compile on a CPU adapter (cached on disk by Mesa afterwards), hence a file of
// their own. conv2d.test.ts covers gradients by finite differences, accumulation, NaN, hostile
// inputs and the golden cases for both kernel families.
let rt: Runtime;
let fastAvailable = false;
beforeAll(async () => {
  rt = await Runtime.create();
  fastAvailable = hasFastKernels(rt);
});
afterAll(() => rt.destroy());

describe('conv2d fast kernels', () => {
  it('are available on this adapter', () => {
    // lavapipe and current GPUs have subgroups of >= 8 invocations; without them 'auto' runs
    // the direct kernels and the sweeps below would check nothing, so fail loudly.
    expect(fastAvailable, 'no subgroups of >= 8 invocations: only the direct kernels can run').toBe(true);
  });

  it('match the reference over the sweep (forward, dx, dw, db)', async () => {
    if (!fastAvailable) return;
    for (const [i, gg] of FAST_SWEEP.entries()) await checkAgainstRef(rt, geom(gg), 'fast', 200 + i);
  });

  it("'auto' matches the reference, including a 9x9 kernel (fast forward and dx, direct dw)", async () => {
    for (const gg of [SWEEP[0]!, SWEEP[SWEEP.length - 1]!]) await checkAgainstRef(rt, geom(gg), 'auto', 300);
  });

  it('larger layers: long reductions, several channel tiles, split dw reductions', async () => {
    await checkAgainstRef(rt, geom([3, 40, 6, 21, 40, 3, 3, 1, 1, 1, 1]), 'auto', 400);
    await checkAgainstRef(rt, geom([8, 3, 6, 10, 6, 3, 3, 1, 1, 1, 1]), 'auto', 401);
  });
});
