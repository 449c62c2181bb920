import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import addScalar from './fixtures/add-scalar.wgsl.js';
import broken from './fixtures/broken.wgsl.js';
import { DeviceLostError, KernelCompileError, KernelValidationError, OpInputError } from './errors.js';
import { f32, Runtime, type Kernel } from './runtime.js';
import type { Tensor } from './tensor.js';
import { BufferUsage } from './usage.js';

const ADD: Kernel = { name: 'add_scalar', code: addScalar, constants: { WG: 64 } };

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

function addScalarOp(x: Tensor, v: number, on: Runtime = rt): Tensor {
  const y = on.empty(x.shape);
  on.dispatch({ kernel: ADD, params: [x.size, f32(v)], bindings: [x, y], workgroups: on.grid(x.size, 64) });
  return y;
}

describe('runtime', () => {
  it('names the adapter and its features', () => {
    expect(rt.adapterName.length).toBeGreaterThan(0);
    expect(typeof rt.info.features.shaderF16).toBe('boolean');
    expect(rt.info.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });

  it('runs a trivial kernel and reads back exact values', async () => {
    const data = Float32Array.from({ length: 1000 }, (_, i) => i * 0.5 - 100);
    const x = rt.upload(data, [10, 100]);
    const y = addScalarOp(x, 0.25);
    const got = await rt.read(y);
    for (let i = 0; i < data.length; i++) {
      if (got[i] !== data[i]! + 0.25) throw new Error(`index ${i}: got ${got[i]}, want ${data[i]! + 0.25}`);
    }
    x.dispose();
    y.dispose();
  });

  it('records many dispatches into one submit and reads only when asked', async () => {
    const before = rt.stats();
    let x = rt.upload([1, 2, 3, 4], [4]);
    for (let k = 0; k < 10; k++) {
      const y = addScalarOp(x, 1);
      x.dispose();
      x = y;
    }
    expect(rt.stats().submits).toBe(before.submits); // nothing submitted yet
    expect(Array.from(await rt.read(x))).toEqual([11, 12, 13, 14]);
    const after = rt.stats();
    expect(after.submits - before.submits).toBe(1);
    expect(after.dispatches - before.dispatches).toBe(10);
    x.dispose();
  });

  it('emptyUniform gives storage that may also be bound as a uniform buffer, pooled apart', async () => {
    const u = rt.emptyUniform([16384], 'i32');
    expect([u.shape, u.dtype]).toEqual([[16384], 'i32']);
    expect(u.buffer.usage & BufferUsage.UNIFORM).toBe(BufferUsage.UNIFORM);
    expect(u.buffer.usage & BufferUsage.STORAGE).toBe(BufferUsage.STORAGE);
    const plain = rt.empty([16384], 'i32');
    expect(plain.buffer.usage & BufferUsage.UNIFORM).toBe(0);
    u.dispose();
    plain.dispose();
    expect(() => rt.emptyUniform([-1])).toThrow(OpInputError);
  });

  it('folds a large 1-D grid into 2-D', async () => {
    const n = 65535 * 64 + 1000; // one more row of workgroups than a dimension allows
    const [gx, gy] = rt.grid(n, 64);
    expect(gy).toBeGreaterThan(1);
    expect(gx * gy * 64).toBeGreaterThanOrEqual(n);
    const x = rt.zeros([n]);
    const y = addScalarOp(x, 3);
    const got = await rt.read(y);
    let bad = -1;
    for (let i = 0; i < n; i++) if (got[i] !== 3) { bad = i; break; }
    expect(bad, `first wrong index ${bad}: got ${got[bad]}`).toBe(-1);
    x.dispose();
    y.dispose();
  });

  it('keeps the old contents for recorded work when a recycled buffer is rewritten', async () => {
    const a = rt.upload([1, 2, 3, 4], [4]);
    const y = addScalarOp(a, 10); // recorded, not submitted
    a.dispose(); // a's buffer is back in the pool
    const b = rt.upload([100, 200, 300, 400], [4]); // reuses it
    expect(b.storage).toBe(a.storage);
    expect(Array.from(await rt.read(y))).toEqual([11, 12, 13, 14]);
    expect(Array.from(await rt.read(b))).toEqual([100, 200, 300, 400]);
    b.dispose();
    y.dispose();
  });

  it('reuses a bind group for the same pipeline and bindings, with new params each time', async () => {
    const x = rt.upload(Float32Array.from({ length: 128 }, (_, k) => k), [128]);
    const y = rt.empty([128]);
    const tail = x.view([64], 64); // another offset of the same buffer: another bind group
    const yTail = y.view([64], 64);
    const run = (t: Tensor, out: Tensor, v: number) =>
      rt.dispatch({ kernel: ADD, params: [t.size, f32(v)], bindings: [t, out], workgroups: rt.grid(t.size, 64) });
    const created = () => rt.stats().bindGroups;
    const c0 = created();
    run(x, y, 1);
    expect((await rt.read(y))[5]).toBe(6);
    expect(created() - c0).toBe(1);
    run(x, y, 2); // same buffers, offsets and params slot: cached, the new value still read
    expect((await rt.read(y))[5]).toBe(7);
    expect(created() - c0).toBe(1);
    run(tail, yTail, 3);
    expect((await rt.read(y))[64]).toBe(67);
    expect(created() - c0).toBe(2);
    // Two dispatches in one batch: the second's params sit in another slot, another group;
    // the same batch again creates none.
    for (let rep = 0; rep < 2; rep++) {
      run(x, y, 4);
      run(tail, yTail, 5);
      const got = await rt.read(y);
      expect([got[5], got[64]]).toEqual([9, 69]);
    }
    expect(created() - c0).toBe(3);
    for (const t of [tail, yTail, x, y]) t.dispose();
    // Trimming destroys the pooled buffers (and drops the groups naming them); new buffers
    // get new groups and run.
    rt.pool.trim();
    const x2 = rt.upload([1, 2, 3, 4], [4]);
    const y2 = rt.empty([4]);
    run(x2, y2, 0.5);
    expect(Array.from(await rt.read(y2))).toEqual([1.5, 2.5, 3.5, 4.5]);
    expect(created() - c0).toBe(4);
    x2.dispose();
    y2.dispose();
  });

  it('scopes only batches that create a bind group, and uploads params only when they change', async () => {
    const x = rt.upload(Float32Array.from({ length: 64 }, (_, k) => k), [64]);
    const y = rt.empty([64]);
    const run = (v: number) => rt.dispatch({ kernel: ADD, params: [x.size, f32(v)], bindings: [x, y], workgroups: 1 });
    const delta = async (v: number, want: number) => {
      const s0 = rt.stats();
      run(v);
      const got = (await rt.read(y))[10];
      const s1 = rt.stats();
      if (got !== want) throw new Error(`add ${v}: index 10 got ${got}, want ${want}`);
      return { scoped: s1.scopedSubmits - s0.scopedSubmits, uploads: s1.paramUploads - s0.paramUploads, groups: s1.bindGroups - s0.bindGroups };
    };
    await rt.sync();
    // First use of these bindings: a new bind group, checked inside a scope; params uploaded.
    expect(await delta(1, 11)).toEqual({ scoped: 1, uploads: 1, groups: 1 });
    // The same work again: no scope, and the params already on the GPU are the same bytes.
    expect(await delta(1, 11)).toEqual({ scoped: 0, uploads: 0, groups: 0 });
    // New params in the same slot are uploaded (and read by the cached group), old ones again too.
    expect(await delta(2, 12)).toEqual({ scoped: 0, uploads: 1, groups: 0 });
    expect(await delta(1, 11)).toEqual({ scoped: 0, uploads: 1, groups: 0 });
    // A dispatch that fails validation still names its kernel (its bind group is new)...
    rt.dispatch({ kernel: ADD, params: [2, f32(1)], bindings: [x], workgroups: 1 });
    const err = await rt.sync().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(KernelValidationError);
    expect(String(err)).toMatch(/add_scalar/);
    // ...and after an error every bind group is made and checked again (the params differ from
    // the failed batch's, so they go up too).
    expect(await delta(1, 11)).toEqual({ scoped: 1, uploads: 1, groups: 1 });
    // A new bind group for an empty dispatch opens a scope with nothing to submit: sync()
    // closes it, and the next batches run as before.
    const x0 = x.view([0], 0);
    rt.dispatch({ kernel: ADD, params: [0, f32(1)], bindings: [x0, y], workgroups: 0 });
    await rt.sync();
    expect(await delta(3, 13)).toEqual({ scoped: 0, uploads: 1, groups: 0 });
    expect(await delta(3, 13)).toEqual({ scoped: 0, uploads: 0, groups: 0 });
    x0.dispose();
    x.dispose();
    y.dispose();
  });

  it('round-trips i32, u32 and f16 tensors', async () => {
    const i = rt.upload([-3, 0, 7, 2147483647], [4], 'i32');
    expect(Array.from(await rt.read(i))).toEqual([-3, 0, 7, 2147483647]);
    const u = rt.upload([0, 1, 4294967295], [3], 'u32');
    expect(Array.from(await rt.read(u))).toEqual([0, 1, 4294967295]);
    const h = rt.upload([1, -2.5, 0.1, 65504, 1e-7], [5], 'f16');
    const got = Array.from(await rt.read(h));
    expect(got.slice(0, 2)).toEqual([1, -2.5]);
    expect(Math.abs(got[2]! - 0.1)).toBeLessThan(1e-4);
    expect(got[3]).toBe(65504);
    for (const t of [i, u, h]) t.dispose();
  });

  it('shares buffers between views and frees them with the last view', async () => {
    const x = rt.upload(Float32Array.from({ length: 128 }, (_, k) => k), [2, 64]);
    const flat = x.reshape([-1]);
    expect(flat.shape).toEqual([128]);
    expect(flat.storage).toBe(x.storage);
    const second = x.view([64], 64); // 256 bytes in: an aligned view of row 1
    expect(Array.from(await rt.read(second)).slice(0, 3)).toEqual([64, 65, 66]);
    const live = rt.stats().buffersLive;
    x.dispose();
    flat.dispose();
    expect(rt.stats().buffersLive).toBe(live); // `second` still holds it
    second.dispose();
    expect(rt.stats().buffersLive).toBe(live - 1);
    expect(() => x.reshape([3, 5])).toThrow(OpInputError);
  });

  it('span(): one 1-D range from a view over its neighbours, within the buffer, sharing it', async () => {
    const x = rt.upload(Float32Array.from({ length: 192 }, (_, k) => k), [3, 64]);
    const row1 = x.view([2, 8], 64); // 16 elements of row 1
    const s = row1.span(100); // past the view's end, into row 2
    expect(s.shape).toEqual([100]);
    expect(s.byteOffset).toBe(256);
    expect(s.storage).toBe(x.storage);
    const got = Array.from(await rt.read(s));
    expect(got[0]).toBe(64);
    expect(got[99]).toBe(163);
    // The pool may hand out more than 192 elements; past the buffer's end it throws.
    const room = x.storage.byteLength / 4 - 64;
    expect(() => row1.span(room + 1)).toThrow(/span: expected a whole number of elements within the buffer/);
    expect(() => row1.span(1.5)).toThrow(OpInputError);
    const live = rt.stats().buffersLive;
    x.dispose();
    row1.dispose();
    expect(rt.stats().buffersLive).toBe(live); // the span still holds it
    s.dispose();
    expect(rt.stats().buffersLive).toBe(live - 1);
  });

  it('rejects bad shapes and data lengths before any dispatch', () => {
    expect(() => rt.upload([1, 2, 3], [2, 2])).toThrow(/upload: expected 4 values/);
    expect(() => rt.empty([2, -1])).toThrow(OpInputError);
    const x = rt.upload([1, 2, 3, 4], [4]);
    expect(() => x.reshape([3])).toThrow(/reshape: expected 4 elements/);
    x.dispose();
    expect(() => x.reshape([4])).toThrow(/disposed/);
  });
});

describe('startProfile() / stopProfile()', () => {
  it('counts every dispatch per kernel across submits and keeps results exact', async () => {
    const ADD2: Kernel = { ...ADD, name: 'add_scalar_again' };
    const x = rt.upload(Float32Array.from({ length: 8192 }, (_, i) => i), [8192]);
    const on = rt.startProfile();
    expect(on).toBe(rt.canTime);
    let y = x;
    const made: Tensor[] = [];
    for (let i = 0; i < 5; i++) {
      y = addScalarOp(y, 1);
      made.push(y);
      if (i === 2) await rt.sync(); // a submit in the middle: both halves count
    }
    const z = rt.empty([8192]);
    rt.dispatch({ kernel: ADD2, params: [8192, f32(10)], bindings: [y, z], workgroups: rt.grid(8192, 64) });
    const rows = await rt.stopProfile();
    const got = await rt.read(z);
    for (let i = 0; i < 8192; i++) {
      if (got[i] !== i + 15) throw new Error(`index ${i}: got ${got[i]}, want ${i + 15}`);
    }
    if (rt.canTime) {
      expect(rows.map((r) => [r.kernel, r.count]).sort()).toEqual([['add_scalar', 5], ['add_scalar_again', 1]]);
      for (const r of rows) expect(r.ms >= 0 && Number.isFinite(r.ms)).toBe(true);
    } else {
      expect(rows).toEqual([]);
    }
    // Profiling is off again: nothing more is recorded, and a new profile starts empty.
    const w = addScalarOp(x, 1);
    await rt.sync();
    expect(await rt.stopProfile()).toEqual([]);
    for (const t of [x, z, w, ...made]) t.dispose();
  });
});

describe('device options', () => {
  it('limitCaps lowers the limits asked for, never raises them', async () => {
    // A cap under WebGPU's default gets the default (the spec's rule for requiredLimits), so
    // the check uses a limit whose default (256) is under most adapters' maximum (1024 on
    // lavapipe and NVIDIA).
    const max = rt.device.limits.maxComputeInvocationsPerWorkgroup;
    const capped = await Runtime.create({ limitCaps: { maxComputeInvocationsPerWorkgroup: 256, maxBufferSize: 2 ** 60 } });
    try {
      expect(capped.device.limits.maxComputeInvocationsPerWorkgroup).toBe(Math.min(max, 256));
      expect(capped.device.limits.maxBufferSize).toBe(rt.device.limits.maxBufferSize);
    } finally {
      capped.destroy();
    }
  });

  it("dawnFlags reach Dawn: timestamps unrounded with 'disable-dawn-features=timestamp_quantization'", async () => {
    // Dawn rounds timestamps down to a multiple of a coarse step (2^16 ns on lavapipe, 2^15 on
    // an H100). Through the flag, eight timed runs are not all multiples of 2^15 ns.
    const exact = await Runtime.create({ dawnFlags: ['disable-dawn-features=timestamp_quantization'] });
    try {
      expect(exact.canTime, 'the adapter has timestamp queries').toBe(true);
      const x = exact.upload(Float32Array.from({ length: 1 << 16 }, (_, i) => i), [1 << 16]);
      const spans: number[] = [];
      for (let i = 0; i < 8; i++) {
        spans.push((await exact.timed(() => addScalarOp(x, 1, exact).dispose()))!);
      }
      expect(spans.some((ns) => ns % 2 ** 15 !== 0), `spans ${spans.join(', ')} ns`).toBe(true);
      x.dispose();
    } finally {
      exact.destroy();
    }
  });
});

describe('timed()', () => {
  it('times the passes of fn() and runs them, across a clear that splits the pass', async () => {
    const before = rt.upload([5, 6], [2]);
    const pre = addScalarOp(before, 1); // recorded before timed(): must still run
    const x = rt.upload(Float32Array.from({ length: 4096 }, (_, i) => i), [4096]);
    let y: Tensor | null = null;
    let z: Tensor | null = null;
    const ns = await rt.timed(() => {
      y = addScalarOp(x, 2);
      z = rt.empty([4096]);
      rt.fillZero(z); // ends the first pass: the bracket must span both
      const w = addScalarOp(y, 3);
      rt.copy(w, z);
      w.dispose();
    });
    if (rt.canTime) {
      expect(typeof ns).toBe('number');
      expect(Number.isFinite(ns)).toBe(true);
      // Not > 0: Dawn rounds timestamps down (65.5 us on lavapipe, 32.8 us on an H100), and
      // on an H100 this bracket is shorter than that, so both ends can read the same value
      // (seen once in two runs there). Unrounded spans: the dawnFlags test above.
      expect(ns!).toBeGreaterThanOrEqual(0);
    } else {
      expect(ns).toBeNull();
    }
    const [gotPre, gotY, gotZ] = await rt.readMany([pre, y!, z!]);
    expect(Array.from(gotPre!)).toEqual([6, 7]);
    for (let i = 0; i < 4096; i++) {
      if (gotY![i] !== i + 2 || gotZ![i] !== i + 5) throw new Error(`index ${i}: got ${gotY![i]}, ${gotZ![i]}`);
    }
    for (const t of [before, pre, x, y!, z!]) t.dispose();
  });

  it('gives 0 for no dispatch and refuses to nest, staying usable', async () => {
    expect(await rt.timed(() => undefined)).toBe(rt.canTime ? 0 : null);
    if (rt.canTime) {
      let inner: Promise<number | null> | null = null;
      const outer = rt.timed(() => {
        inner = rt.timed(() => undefined);
      });
      await expect(inner!).rejects.toThrow(/timed/);
      await outer;
    }
    const x = rt.upload([1, 2], [2]);
    const ns = await rt.timed(() => void addScalarOp(x, 1));
    expect(ns === null || ns >= 0).toBe(true);
    x.dispose();
  });

  it('releases the timer after fn() throws', async () => {
    await expect(rt.timed(() => { throw new Error('boom'); })).rejects.toThrow('boom');
    const x = rt.upload([1, 2], [2]);
    let y: Tensor | null = null;
    await rt.timed(() => { y = addScalarOp(x, 1); });
    expect(Array.from(await rt.read(y!))).toEqual([2, 3]);
    x.dispose();
    y!.dispose();
  });
});

describe('buffer pool', () => {
  it('reuses freed buffers by size class and counts it', () => {
    const c0 = rt.pool.counters;
    const a = rt.empty([1000]); // 4000 bytes -> the 4096 class
    const c1 = rt.pool.counters;
    a.dispose();
    const c2 = rt.pool.counters;
    expect(c2.bytesPooled - c1.bytesPooled).toBe(4096);
    expect(c1.bytesLive - c2.bytesLive).toBe(4096);
    const b = rt.empty([1010]); // same class: reused
    const c3 = rt.pool.counters;
    expect(c3.allocations).toBe(c1.allocations);
    expect(c3.reuses).toBe(c2.reuses + 1);
    expect(b.storage).toBe(a.storage);
    b.dispose();
    expect(rt.pool.counters.bytesLive).toBe(c0.bytesLive);
  });
});

describe('errors', () => {
  it('reports a compile error with the kernel name', async () => {
    await expect(rt.compile({ name: 'broken_kernel', code: broken })).rejects.toThrow(KernelCompileError);
    await expect(rt.compile({ name: 'broken_kernel', code: broken })).rejects.toThrow(/broken_kernel.*undefined_thing/);
  });

  it('reports a compile error from a dispatch at the next read, naming the kernel', async () => {
    const y = rt.zeros([4]);
    rt.dispatch({ kernel: { name: 'broken_in_batch', code: broken }, bindings: [y], workgroups: 1 });
    await expect(rt.read(y)).rejects.toThrow(/broken_in_batch/);
    // The runtime stays usable afterwards.
    const x = rt.upload([1, 2], [2]);
    expect(Array.from(await rt.read(addScalarOp(x, 1)))).toEqual([2, 3]);
  });

  it('reports a binding mismatch as a validation error naming the kernel', async () => {
    const x = rt.upload([1, 2], [2]);
    // add_scalar needs two storage bindings; give it one.
    rt.dispatch({ kernel: ADD, params: [2, f32(1)], bindings: [x], workgroups: 1 });
    const err = await rt.sync().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(KernelValidationError);
    expect(String(err)).toMatch(/add_scalar/);
  });

  it('turns a lost device into DeviceLostError instead of a hang', async () => {
    const other = await Runtime.create();
    const x = other.upload([1], [1]);
    other.device.destroy();
    await other.device.lost;
    await expect(other.read(x)).rejects.toThrow(DeviceLostError);
    expect(() => other.dispatch({ kernel: ADD, params: [1, f32(1)], bindings: [x, x], workgroups: 1 })).toThrow(DeviceLostError);
  });
});
