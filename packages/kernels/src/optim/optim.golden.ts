import type { Runtime, Tensor } from '@crnn/core';
import type { GoldenCase, GoldenHandler, GoldenTensor } from '../golden/golden.js';
import { uploadGolden } from '../golden/golden.js';
import { clipGradNorm } from './clip-grad-norm.js';
import { Adadelta, Adam, Sgd, type Optimizer } from './optim.js';

function list(c: GoldenCase, name: string): GoldenTensor[] {
  const v = c.inputs[name];
  if (!Array.isArray(v)) throw new Error(`golden: '${name}' is not a list of tensors`);
  return v;
}

const num = (c: GoldenCase, key: string, dflt: number): number => {
  const v = c.attrs[key];
  return typeof v === 'number' ? v : dflt;
};
const bool = (c: GoldenCase, key: string): boolean => c.attrs[key] === true;

/**
 * Runs the optimizer over inputs.param with one gradient per step; snapshots the parameter
 * on the GPU after every step (a copy per step, one readback at the end).
 */
async function trajectory(rt: Runtime, c: GoldenCase, opt: Optimizer) {
  const p = uploadGolden(rt, c.inputs.param, 'param');
  const snaps: Tensor[] = [];
  const grads: Tensor[] = [];
  list(c, 'grads_per_step').forEach((g, k) => {
    const tg = uploadGolden(rt, g, `grads_per_step[${k}]`);
    opt.step(rt, [p], [tg]);
    const s = rt.empty(p.shape);
    rt.copy(p, s);
    snaps.push(s);
    grads.push(tg);
  });
  const out = await rt.readMany(snaps);
  for (const t of [p, ...snaps, ...grads]) t.dispose();
  opt.dispose();
  return { outputs: { param_after_each_step: out } };
}

/** optimizer_sgd: torch.optim.SGD(lr, momentum, dampening, nesterov, weight_decay). */
export const optimizerSgdGolden: GoldenHandler = (rt, c) =>
  trajectory(
    rt,
    c,
    new Sgd({ lr: num(c, 'lr', NaN), momentum: num(c, 'momentum', 0), dampening: num(c, 'dampening', 0), nesterov: bool(c, 'nesterov'), weightDecay: num(c, 'weight_decay', 0) }),
  );

/** optimizer_adam: torch.optim.Adam(lr, betas, eps, weight_decay, amsgrad). */
export const optimizerAdamGolden: GoldenHandler = (rt, c) => {
  const betas = c.attrs.betas;
  const b = Array.isArray(betas) && betas.length === 2 ? ([Number(betas[0]), Number(betas[1])] as const) : ([0.9, 0.999] as const);
  return trajectory(rt, c, new Adam({ lr: num(c, 'lr', 1e-3), betas: b, eps: num(c, 'eps', 1e-8), weightDecay: num(c, 'weight_decay', 0), amsgrad: bool(c, 'amsgrad') }));
};

/** optimizer_adadelta: torch.optim.Adadelta(lr, rho, eps, weight_decay). */
export const optimizerAdadeltaGolden: GoldenHandler = (rt, c) =>
  trajectory(rt, c, new Adadelta({ lr: num(c, 'lr', 1.0), rho: num(c, 'rho', 0.9), eps: num(c, 'eps', 1e-6), weightDecay: num(c, 'weight_decay', 0) }));

/** clip_grad_norm: outputs total_norm (scalar) and clipped (one tensor per gradient). */
export const clipGradNormGolden: GoldenHandler = async (rt, c) => {
  const grads = list(c, 'grads').map((g, i) => uploadGolden(rt, g, `grads[${i}]`));
  const norm = clipGradNorm(rt, grads, num(c, 'max_norm', NaN));
  const [n, ...clipped] = await rt.readMany([norm, ...grads]);
  for (const t of [norm, ...grads]) t.dispose();
  return { outputs: { total_norm: n!, clipped } };
};
