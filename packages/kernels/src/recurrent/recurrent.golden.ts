// The golden-case driver shared by lstm.golden.ts and gru.golden.ts: uploads x and every
// parameter (all inputs but x, by torch name), runs the op and its backward with
// grad_outputs.y (or, when the case has none, a scalar loss sum(y): upstream gradient 1),
// and reads back every output and gradient the case names.
import type { Runtime, Tensor } from '@crnn/core';
import { uploadGolden, type GoldenCase, type GoldenHandler, type HostValue } from '../golden/golden.js';

export interface GoldenRun {
  outputs: Record<string, Tensor>;
  backward(dy: Tensor): { dx: Tensor; grads: Record<string, Tensor> };
}

export type GoldenOptions = { hiddenSize: number; numLayers: number; bidirectional: boolean };

export function recurrentGolden(run: (rt: Runtime, x: Tensor, params: Record<string, Tensor>, o: GoldenOptions) => GoldenRun): GoldenHandler {
  return async (rt: Runtime, c: GoldenCase) => {
    const x = uploadGolden(rt, c.inputs.x, 'x');
    const params: Record<string, Tensor> = {};
    for (const name of Object.keys(c.inputs)) if (name !== 'x') params[name] = uploadGolden(rt, c.inputs[name], name);
    const o: GoldenOptions = {
      hiddenSize: Number(c.attrs.hidden_size),
      numLayers: Number(c.attrs.num_layers ?? 1),
      bidirectional: Boolean(c.attrs.bidirectional),
    };
    const r = run(rt, x, params, o);
    const y = r.outputs.y!;
    const dy = c.grad_outputs?.y ? uploadGolden(rt, c.grad_outputs.y, 'grad_outputs.y') : rt.upload(new Float32Array(y.size).fill(1), y.shape);
    const g = r.backward(dy);
    const outNames = Object.keys(c.outputs);
    const gradNames = Object.keys(c.grads ?? {});
    const gradTensor = (name: string): Tensor => {
      const t = name === 'x' ? g.dx : g.grads[name];
      if (!t) throw new Error(`golden ${c.op}: no gradient for '${name}'`);
      return t;
    };
    const outTensor = (name: string): Tensor => {
      const t = r.outputs[name];
      if (!t) throw new Error(`golden ${c.op}: no output '${name}'`);
      return t;
    };
    const tensors = [...outNames.map(outTensor), ...gradNames.map(gradTensor)];
    const host = await rt.readMany(tensors);
    const outputs: Record<string, HostValue> = {};
    const grads: Record<string, HostValue> = {};
    outNames.forEach((n, i) => (outputs[n] = host[i]!));
    gradNames.forEach((n, i) => (grads[n] = host[outNames.length + i]!));
    for (const t of [x, dy, g.dx, ...Object.values(params), ...Object.values(r.outputs), ...Object.values(g.grads)]) t.dispose();
    return { outputs, grads };
  };
}
