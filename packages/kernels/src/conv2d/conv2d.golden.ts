import type { Tensor } from '@crnn/core';
import type { GoldenHandler, HostValue } from '../golden/golden.js';
import { uploadGolden } from '../golden/golden.js';
import { conv2d, conv2dBackward } from './conv2d.js';

function pairAttr(v: unknown, fallback: number): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((e) => typeof e === 'number')) return [v[0] as number, v[1] as number];
  if (v === undefined) return [fallback, fallback];
  throw new Error(`golden: conv2d attribute ${JSON.stringify(v)} is not a number or a pair`);
}

/**
 * conv2d: y = conv2d(x, weight, bias) with attrs stride / padding; grads of
 * sum(y * grad_outputs.y) for x, weight and (when present) bias.
 */
export const conv2dGolden: GoldenHandler = async (rt, c) => {
  const opts = { stride: pairAttr(c.attrs.stride, 1), padding: pairAttr(c.attrs.padding, 0) };
  const x = uploadGolden(rt, c.inputs.x, 'x');
  const w = uploadGolden(rt, c.inputs.weight, 'weight');
  const b = c.inputs.bias ? uploadGolden(rt, c.inputs.bias, 'bias') : undefined;
  const y = conv2d(rt, x, w, b, opts);
  const owned: Tensor[] = [x, w, y];
  if (b) owned.push(b);
  const outputs: Record<string, HostValue> = {};
  const grads: Record<string, HostValue> = {};
  if (c.grads) {
    const dy = uploadGolden(rt, c.grad_outputs?.y, 'grad_outputs.y');
    const g = conv2dBackward(rt, dy, x, w, opts, { x: true, w: true, b: !!b });
    owned.push(dy, g.dx!, g.dw!);
    if (g.db) owned.push(g.db);
    const [yh, dx, dw, db] = await rt.readMany(g.db ? [y, g.dx!, g.dw!, g.db] : [y, g.dx!, g.dw!]);
    outputs.y = yh!;
    grads.x = dx!;
    grads.weight = dw!;
    if (db) grads.bias = db;
  } else {
    outputs.y = await rt.read(y);
  }
  for (const t of owned) t.dispose();
  return { outputs, grads };
};
