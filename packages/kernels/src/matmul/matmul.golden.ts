import type { GoldenHandler } from '../golden/golden.js';
import { uploadGolden } from '../golden/golden.js';
import { linear, linearBackward } from './matmul.js';

/** linear: y = x W^T + b; grads of sum(y * grad_outputs.y). */
export const linearGolden: GoldenHandler = async (rt, c) => {
  const x = uploadGolden(rt, c.inputs.x, 'x');
  const w = uploadGolden(rt, c.inputs.weight, 'weight');
  const b = uploadGolden(rt, c.inputs.bias, 'bias');
  const y = linear(rt, x, w, b);
  const dy = uploadGolden(rt, c.grad_outputs?.y, 'grad_outputs.y');
  const g = linearBackward(rt, dy, x, w);
  const [yh, dx, dw, db] = await rt.readMany([y, g.dx!, g.dw!, g.db!]);
  for (const t of [x, w, b, y, dy, g.dx!, g.dw!, g.db!]) t.dispose();
  return { outputs: { y: yh! }, grads: { x: dx!, weight: dw!, bias: db! } };
};
