// Test helpers shared by lstm.test.ts and gru.test.ts (no vitest import, so that both
// files own their test cases): random parameters by torch name, one GPU forward+backward
// read back to the host, and the matching float64 reference run.
import { type Rng, type Runtime, type Tensor } from '@crnn/core';
import { dropoutMaskRef } from '../elementwise/elementwise.ref.js';
import { asF32, compareClose, randomArray, type Tol } from '../testing.js';
import {
  dropoutSeed,
  hasWideSubgroups,
  paramNames,
  type RecurrentGrads,
  type RecurrentGradsIn,
  type RecurrentOptions,
  type RecurrentSaved,
  type RecurrentVariant,
} from './recurrent.js';
import { recurrentBackwardRef, recurrentRef, type Cell, type RefDims } from './recurrent.ref.js';

/** The public API of one op (lstm/lstmBackward or gru/gruBackward), as the tests call it. */
export interface RnnApi {
  cell: Cell;
  gates: 3 | 4;
  forward(rt: Runtime, x: Tensor, params: Record<string, Tensor>, o: RecurrentOptions): { y: Tensor; hN: Tensor; cN?: Tensor; saved: RecurrentSaved };
  backward(rt: Runtime, dy: Tensor, saved: RecurrentSaved, o: RecurrentGradsIn): Partial<RecurrentGrads> & { dx: Tensor; grads: Record<string, Tensor> };
}

export interface Case extends RefDims {
  bias?: boolean;
  h0?: boolean;
  c0?: boolean;
  dhN?: boolean;
  dcN?: boolean;
  dropout?: number;
  seed?: number;
  training?: boolean;
  variant?: RecurrentVariant;
}

/** The step kernel variants this adapter runs (both on lavapipe). */
export function variantsOf(rt: Runtime): RecurrentVariant[] {
  return hasWideSubgroups(rt) ? ['generic', 'subgroup'] : ['generic'];
}

export interface CaseData {
  x: Float64Array;
  params: Record<string, Float64Array>;
  h0?: Float64Array;
  c0?: Float64Array;
  dy: Float64Array;
  dhN?: Float64Array;
  dcN?: Float64Array;
}

export const caseName = (c: Case) =>
  `T${c.T} N${c.N} I${c.I} H${c.H} L${c.L} dirs${c.dirs}${c.bias === false ? ' nobias' : ''}${c.h0 ? ' h0' : ''}${c.c0 ? ' c0' : ''}${c.dhN ? ' dhN' : ''}${c.dcN ? ' dcN' : ''}${c.dropout ? ` drop${c.dropout}${c.training ? ' train' : ' eval'}` : ''}${c.variant ? ` ${c.variant}` : ''}`;

/** f32-rounded random inputs and parameters (uniform in [-scale, scale]) for a case. */
export function makeData(rng: Rng, cell: Cell, c: Case, scale = 0.6): CaseData {
  const G = (cell === 'lstm' ? 4 : 3) * c.H;
  const params: Record<string, Float64Array> = {};
  for (let l = 0; l < c.L; l++) {
    const inF = l === 0 ? c.I : c.dirs * c.H;
    for (let d = 0; d < c.dirs; d++) {
      const nm = paramNames(l, d);
      params[nm.wih] = asF32(randomArray(rng, G * inF, -scale, scale));
      params[nm.whh] = asF32(randomArray(rng, G * c.H, -scale, scale));
      if (c.bias !== false) {
        params[nm.bih] = asF32(randomArray(rng, G, -scale, scale));
        params[nm.bhh] = asF32(randomArray(rng, G, -scale, scale));
      }
    }
  }
  const state = c.L * c.dirs * c.N * c.H;
  return {
    x: asF32(randomArray(rng, c.T * c.N * c.I)),
    params,
    ...(c.h0 ? { h0: asF32(randomArray(rng, state)) } : {}),
    ...(c.c0 ? { c0: asF32(randomArray(rng, state)) } : {}),
    dy: asF32(randomArray(rng, c.T * c.N * c.dirs * c.H)),
    ...(c.dhN ? { dhN: asF32(randomArray(rng, state)) } : {}),
    ...(c.dcN ? { dcN: asF32(randomArray(rng, state)) } : {}),
  };
}

/** The dropout multipliers (0 or 1/(1-p)) the GPU draws for each layer's input. */
export function dropMasksFor(c: Case): Array<Float64Array | undefined> | undefined {
  const p = c.dropout ?? 0;
  if (!(c.training && p > 0 && c.L > 1)) return undefined;
  const n = c.T * c.N * c.dirs * c.H;
  return Array.from({ length: c.L }, (_, l) =>
    l === 0 ? undefined : Float64Array.from(dropoutMaskRef(n, p, dropoutSeed(c.seed ?? 0, l)), (k) => (k ? 1 / (1 - p) : 0)),
  );
}

export interface HostResult {
  y: Float64Array;
  hN: Float64Array;
  cN: Float64Array;
  dx: Float64Array;
  grads: Record<string, Float64Array>;
  dh0: Float64Array;
  dc0: Float64Array;
}

export function refRun(cell: Cell, c: Case, data: CaseData): HostResult {
  const dropMasks = dropMasksFor(c);
  const dims: RefDims = { T: c.T, N: c.N, I: c.I, H: c.H, L: c.L, dirs: c.dirs };
  const fwd = recurrentRef(cell, { ...dims, x: data.x, params: data.params, ...(data.h0 ? { h0: data.h0 } : {}), ...(data.c0 ? { c0: data.c0 } : {}), ...(dropMasks ? { dropMasks } : {}) });
  const g = recurrentBackwardRef(cell, {
    ...dims,
    params: data.params,
    fwd,
    dy: data.dy,
    ...(data.dhN ? { dhN: data.dhN } : {}),
    ...(data.dcN ? { dcN: data.dcN } : {}),
    ...(dropMasks ? { dropMasks } : {}),
  });
  return { y: fwd.y, hN: fwd.hN, cN: fwd.cN, dx: g.dx, grads: g.grads, dh0: g.dh0, dc0: g.dc0 };
}

/** Runs forward and backward on the GPU and reads everything back. */
export async function gpuRun(rt: Runtime, api: RnnApi, c: Case, data: CaseData): Promise<HostResult> {
  const owned: Tensor[] = [];
  const up = (a: Float64Array, shape: number[]) => {
    const t = rt.upload(a, shape);
    owned.push(t);
    return t;
  };
  const stateShape = [c.L * c.dirs, c.N, c.H];
  const x = up(data.x, [c.T, c.N, c.I]);
  const params: Record<string, Tensor> = {};
  for (const [name, v] of Object.entries(data.params)) {
    const G = api.gates * c.H;
    params[name] = up(v, name.startsWith('bias') ? [G] : [G, v.length / G]);
  }
  const r = api.forward(rt, x, params, {
    hiddenSize: c.H,
    numLayers: c.L,
    bidirectional: c.dirs === 2,
    ...(c.dropout !== undefined ? { dropout: c.dropout } : {}),
    ...(c.seed !== undefined ? { seed: c.seed } : {}),
    ...(c.training !== undefined ? { training: c.training } : {}),
    ...(c.variant !== undefined ? { variant: c.variant } : {}),
    ...(data.h0 ? { h0: up(data.h0, stateShape) } : {}),
    ...(data.c0 ? { c0: up(data.c0, stateShape) } : {}),
  });
  const dy = up(data.dy, [c.T, c.N, c.dirs * c.H]);
  const g = api.backward(rt, dy, r.saved, {
    ...(data.dhN ? { dhN: up(data.dhN, stateShape) } : {}),
    ...(data.dcN ? { dcN: up(data.dcN, stateShape) } : {}),
  });
  const names = Object.keys(g.grads).sort();
  const list = [r.y, r.hN, r.cN ?? rt.placeholder, g.dx, g.dh0 ?? rt.placeholder, g.dc0 ?? rt.placeholder, ...names.map((n) => g.grads[n]!)];
  const host = (await rt.readMany(list)).map((a) => Float64Array.from(a));
  const grads: Record<string, Float64Array> = {};
  names.forEach((n, i) => (grads[n] = host[6 + i]!));
  for (const t of [...owned, r.y, r.hN, g.dx, ...Object.values(g.grads)]) t.dispose();
  r.cN?.dispose();
  g.dh0?.dispose();
  g.dc0?.dispose();
  return { y: host[0]!, hN: host[1]!, cN: host[2]!, dx: host[3]!, grads, dh0: host[4]!, dc0: host[5]! };
}

/** Compares a GPU result with the reference; returns the failure messages. */
export function compareResults(cell: Cell, c: Case, got: HostResult, want: HostResult, tol: Tol): string[] {
  const bad: string[] = [];
  const check = (label: string, g: ArrayLike<number>, w: ArrayLike<number>) => {
    const r = compareClose(g, w, tol, `${caseName(c)} ${label}`);
    if (!r.ok) bad.push(r.message);
  };
  check('y', got.y, want.y);
  check('hN', got.hN, want.hN);
  if (cell === 'lstm') check('cN', got.cN, want.cN);
  check('dx', got.dx, want.dx);
  for (const name of Object.keys(want.grads)) {
    if (c.bias === false && name.startsWith('bias')) {
      if (got.grads[name]) bad.push(`${name}: a gradient for an absent bias`);
      continue;
    }
    const g = got.grads[name];
    if (!g) bad.push(`${caseName(c)}: no gradient ${name}`);
    else check(name, g, want.grads[name]!);
  }
  if (c.h0) check('dh0', got.dh0, want.dh0);
  if (c.c0) check('dc0', got.dc0, want.dc0);
  return bad;
}

/**
 * Central finite differences of loss = sum(y dy) + sum(hN dhN) + sum(cN dcN) of the float64
 * reference with respect to x, every parameter, h0 and c0 (keyed 'x', torch names, 'h0', 'c0').
 */
export function fdGrads(cell: Cell, c: Case, data: CaseData, eps = 1e-6): Record<string, Float64Array> {
  const dropMasks = dropMasksFor(c);
  const dims: RefDims = { T: c.T, N: c.N, I: c.I, H: c.H, L: c.L, dirs: c.dirs };
  const loss = () => {
    const f = recurrentRef(cell, { ...dims, x: data.x, params: data.params, ...(data.h0 ? { h0: data.h0 } : {}), ...(data.c0 ? { c0: data.c0 } : {}), ...(dropMasks ? { dropMasks } : {}) });
    let s = 0;
    for (let i = 0; i < f.y.length; i++) s += f.y[i]! * data.dy[i]!;
    if (data.dhN) for (let i = 0; i < f.hN.length; i++) s += f.hN[i]! * data.dhN[i]!;
    if (data.dcN) for (let i = 0; i < f.cN.length; i++) s += f.cN[i]! * data.dcN[i]!;
    return s;
  };
  const targets: Record<string, Float64Array> = { x: data.x, ...data.params, ...(data.h0 ? { h0: data.h0 } : {}), ...(data.c0 ? { c0: data.c0 } : {}) };
  const out: Record<string, Float64Array> = {};
  for (const [name, arr] of Object.entries(targets)) {
    const g = new Float64Array(arr.length);
    for (let i = 0; i < arr.length; i++) {
      const old = arr[i]!;
      arr[i] = old + eps;
      const lp = loss();
      arr[i] = old - eps;
      const lm = loss();
      arr[i] = old;
      g[i] = (lp - lm) / (2 * eps);
    }
    out[name] = g;
  }
  return out;
}

/** The analytic gradient of a result by the keys fdGrads uses. */
export function gradByKey(r: HostResult, key: string): Float64Array | undefined {
  if (key === 'x') return r.dx;
  if (key === 'h0') return r.dh0;
  if (key === 'c0') return r.dc0;
  return r.grads[key];
}
