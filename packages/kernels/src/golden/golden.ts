/**
 * PyTorch golden cases (../shared/golden/README.md gives the format): loading, running a
 * case through an op handler, and comparing every output and gradient the case holds with
 * |got - want| <= atol + rtol * |want|.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Runtime } from '@crnn/core';
import { compareClose, type Tol } from '../testing.js';

export interface GoldenTensor {
  shape: number[];
  dtype: 'float32' | 'int32';
  data: number[];
}

/** A tensor, or a list of tensors (optimizer trajectories, clip_grad_norm). */
export type GoldenValue = GoldenTensor | GoldenTensor[];

export interface GoldenCase {
  file: string;
  op: string;
  attrs: Record<string, unknown>;
  inputs: Record<string, GoldenValue>;
  outputs: Record<string, GoldenValue>;
  grad_outputs?: Record<string, GoldenTensor>;
  grads?: Record<string, GoldenValue>;
  tol: Tol;
}

export type HostValue = ArrayLike<number> | Array<ArrayLike<number>>;

/** What a handler computed, keyed like the case's `outputs` and `grads`. */
export interface GoldenResult {
  outputs: Record<string, HostValue>;
  grads?: Record<string, HostValue>;
}

export type GoldenHandler = (rt: Runtime, c: GoldenCase) => Promise<GoldenResult>;

export interface CaseResult {
  file: string;
  op: string;
  ok: boolean;
  /** One line: what was compared and the largest error, or what failed. */
  message: string;
}

export function loadCase(path: string): GoldenCase {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Partial<GoldenCase> & { op: string };
  return {
    ...raw,
    attrs: raw.attrs ?? {},
    inputs: raw.inputs ?? {},
    outputs: raw.outputs ?? {},
    tol: raw.tol ?? { rtol: 1e-3, atol: 1e-4 },
    file: path,
  };
}

export function loadCases(dir: string): GoldenCase[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => loadCase(join(dir, f)));
}

/** The tensor's data, checked against its shape. */
export function tensorData(v: GoldenValue | undefined, name: string): number[] {
  if (!v || Array.isArray(v)) throw new Error(`golden: '${name}' is not a tensor`);
  const n = v.shape.reduce((a, b) => a * b, 1);
  if (v.data.length !== n) throw new Error(`golden: '${name}' has ${v.data.length} values for shape [${v.shape}]`);
  return v.data;
}

function flatten(v: GoldenValue): { shapes: number[][]; data: number[][] } {
  const list = Array.isArray(v) ? v : [v];
  return { shapes: list.map((t) => t.shape), data: list.map((t) => t.data) };
}

function compareValue(label: string, got: HostValue | undefined, want: GoldenValue, tol: Tol): { ok: boolean; message: string; maxAbs: number } {
  if (got === undefined) return { ok: false, message: `${label}: not produced`, maxAbs: Infinity };
  const w = flatten(want);
  const g: Array<ArrayLike<number>> = Array.isArray(want) ? (got as Array<ArrayLike<number>>) : [got as ArrayLike<number>];
  if (g.length !== w.data.length) return { ok: false, message: `${label}: ${g.length} tensors, want ${w.data.length}`, maxAbs: Infinity };
  let maxAbs = 0;
  for (let i = 0; i < g.length; i++) {
    const r = compareClose(g[i]!, w.data[i]!, tol, Array.isArray(want) ? `${label}[${i}]` : label);
    if (!r.ok) return { ok: false, message: r.message, maxAbs: r.maxAbs };
    maxAbs = Math.max(maxAbs, r.maxAbs);
  }
  return { ok: true, message: '', maxAbs };
}

export async function runCase(rt: Runtime, c: GoldenCase, handlers: Readonly<Record<string, GoldenHandler>>): Promise<CaseResult> {
  const file = c.file.split('/').pop() ?? c.file;
  const handler = handlers[c.op];
  if (!handler) return { file, op: c.op, ok: false, message: `unknown op '${c.op}': no handler` };
  let res: GoldenResult;
  try {
    res = await handler(rt, c);
  } catch (e) {
    return { file, op: c.op, ok: false, message: `threw: ${e instanceof Error ? e.message : String(e)}` };
  }
  let maxAbs = 0;
  let compared = 0;
  const groups: Array<[string, Record<string, GoldenValue>, Record<string, HostValue> | undefined]> = [
    ['output', c.outputs, res.outputs],
    ['grad', c.grads ?? {}, res.grads],
  ];
  for (const [kind, want, got] of groups) {
    for (const [name, w] of Object.entries(want)) {
      const r = compareValue(`${kind} ${name}`, got?.[name], w, c.tol);
      if (!r.ok) return { file, op: c.op, ok: false, message: r.message };
      maxAbs = Math.max(maxAbs, r.maxAbs);
      compared++;
    }
  }
  return { file, op: c.op, ok: true, message: `${compared} tensors, max abs err ${maxAbs.toExponential(2)}` };
}

export async function runGolden(
  rt: Runtime,
  dir: string,
  handlers: Readonly<Record<string, GoldenHandler>>,
  log: (line: string) => void = () => {},
): Promise<{ passed: number; failed: number; results: CaseResult[] }> {
  const results: CaseResult[] = [];
  for (const c of loadCases(dir)) {
    const r = await runCase(rt, c, handlers);
    results.push(r);
    log(`${r.ok ? 'PASS' : 'FAIL'} ${r.file} (${r.op}): ${r.message}`);
  }
  const passed = results.filter((r) => r.ok).length;
  return { passed, failed: results.length - passed, results };
}

/** Uploads a golden tensor as f32 (or i32 for int32 data). */
export function uploadGolden(rt: Runtime, v: GoldenValue | undefined, name: string) {
  const data = tensorData(v, name);
  const t = v as GoldenTensor;
  return rt.upload(data, t.shape, t.dtype === 'int32' ? 'i32' : 'f32');
}
