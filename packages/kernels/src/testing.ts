/**
 * Test helpers shared by the kernel tests (internal: not exported from the package index).
 * Comparisons print the first failing index, got, want and the maximum error, so a failure
 * says where and by how much.
 */
import { Rng, type Runtime } from '@crnn/core';

export interface Tol {
  rtol: number;
  atol: number;
}

export interface CloseReport {
  ok: boolean;
  maxAbs: number;
  maxRel: number;
  firstBad: number;
  message: string;
}

/** Passes when |got - want| <= atol + rtol * |want| everywhere (NaN only matches NaN). */
export function compareClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tol, label = 'value'): CloseReport {
  if (got.length !== want.length) {
    return { ok: false, maxAbs: Infinity, maxRel: Infinity, firstBad: -1, message: `${label}: length ${got.length}, want ${want.length}` };
  }
  let maxAbs = 0;
  let maxRel = 0;
  let firstBad = -1;
  let bad = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (Number.isNaN(w) && Number.isNaN(g)) continue;
    const d = Math.abs(g - w);
    if (!(d <= tol.atol + tol.rtol * Math.abs(w))) {
      bad++;
      if (firstBad < 0) firstBad = i;
    }
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? Infinity : d;
    const r = d / Math.max(Math.abs(w), 1e-12);
    if (r > maxRel) maxRel = r;
  }
  const ok = bad === 0;
  const message = ok
    ? `${label}: ok (max abs err ${maxAbs.toExponential(2)})`
    : `${label}: ${bad}/${got.length} out of tolerance (rtol ${tol.rtol}, atol ${tol.atol}); first at index ${firstBad}: got ${got[firstBad]}, want ${want[firstBad]}; max abs err ${maxAbs.toExponential(3)}, max rel err ${maxRel.toExponential(3)}`;
  return { ok, maxAbs, maxRel, firstBad, message };
}

/** Throws with compareClose's message when out of tolerance. */
export function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tol, label = 'value'): void {
  const r = compareClose(got, want, tol, label);
  if (!r.ok) throw new Error(r.message);
}

/**
 * Central finite differences of a scalar function f(x) (float64) at x: returns df/dx.
 * Used to check the CPU references' backward passes, and through them the GPU's.
 */
export function finiteDiff(f: (x: Float64Array) => number, x: Float64Array, eps = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const old = x[i]!;
    x[i] = old + eps;
    const fp = f(x);
    x[i] = old - eps;
    const fm = f(x);
    x[i] = old;
    g[i] = (fp - fm) / (2 * eps);
  }
  return g;
}

/** Seeded uniform values in [lo, hi) as float64 (round to f32 with Float32Array.from). */
export function randomArray(rng: Rng, n: number, lo = -1, hi = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(lo, hi);
  return a;
}

/** A float64 copy of f32-rounded values, so the CPU reference sees exactly what the GPU sees. */
export function asF32(a: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(a));
}

/** sum(y * w): the scalar whose gradient is the backward pass with upstream gradient w. */
export function dot(y: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i]! * w[i]!;
  return s;
}

/**
 * WebGPU's default buffer limits (the spec's, and lavapipe's maximum). Runtime.create asks for
 * the adapter's maximum, 2 GiB and more on real GPUs, so a test whose shape is chosen to
 * overflow one storage binding makes its runtime with these as `limitCaps`.
 */
export const DEFAULT_BUFFER_LIMITS = { maxStorageBufferBindingSize: 134_217_728, maxBufferSize: 268_435_456 } as const;

/**
 * A view of rt for checking kernel choices (never for dispatching): `info.isSoftware` as
 * given, and with `binding`, storage bindings and buffers of that many bytes. The choices
 * read only these, so the rules for both adapter kinds are checked on any adapter.
 */
export function adapterView(rt: Runtime, isSoftware: boolean, binding?: number): Runtime {
  const d = rt.device;
  const limits = { maxStorageBufferBindingSize: binding, maxBufferSize: binding, maxComputeWorkgroupsPerDimension: d.limits.maxComputeWorkgroupsPerDimension };
  const device = binding === undefined ? d : { features: d.features, adapterInfo: d.adapterInfo, limits };
  return Object.create(rt, { info: { value: { ...rt.info, isSoftware } }, device: { value: device } }) as Runtime;
}

/**
 * For results that two code paths of the same arithmetic must agree on: the same bits on a
 * software adapter (lavapipe compiles both to the same float operations, measured), and on
 * a GPU within `steps` float32 steps of the tensor's largest magnitude (steps * 2^-23 *
 * max |want|), since Vulkan lets OpFDiv be 2.5 ULP off and derives sqrt from inversesqrt, so
 * a compiler may pick other instruction sequences for other code (NVIDIA 580 on an H100:
 * Adam with amsgrad, scalar against vec4 entry points, 1 ULP apart in a few updates). An
 * indexing error is off by the values themselves. Returns a message, '' when they agree.
 */
export function sameBitsOrClose(rt: Runtime, got: ArrayLike<number>, want: ArrayLike<number>, label: string, steps = 4): string {
  if (got.length !== want.length) return `${label}: length ${got.length}, want ${want.length}`;
  if (!rt.info.isSoftware) {
    let scale = 0;
    for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
    const r = compareClose(got, want, { rtol: 0, atol: steps * 2 ** -23 * scale }, label);
    return r.ok ? '' : r.message;
  }
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (!Object.is(g, w)) return `${label}: index ${i}, got ${g}, want ${w}, error ${Math.abs(g - w).toExponential(2)} (allowed none: the same bits)`;
  }
  return '';
}
