import type { GoldenHandler } from '../golden/golden.js';
import { tensorData, uploadGolden } from '../golden/golden.js';
import { ctcLoss, type CtcReduction } from './ctc.js';

/**
 * ctc_loss: loss = CTC(log_softmax(logits, 2)) with attrs blank, reduction, zero_infinity;
 * the grad is of sum(loss * grad_outputs.loss) (upstream 1 when the case has none) with
 * respect to the logits.
 */
export const ctcLossGolden: GoldenHandler = async (rt, c) => {
  const logits = uploadGolden(rt, c.inputs.logits, 'logits');
  const targets = tensorData(c.inputs.targets, 'targets');
  const inputLengths = tensorData(c.inputs.input_lengths, 'input_lengths');
  const targetLengths = tensorData(c.inputs.target_lengths, 'target_lengths');
  const reduction = (c.attrs.reduction as CtcReduction | undefined) ?? 'mean';
  const up = c.grad_outputs?.loss ? tensorData(c.grad_outputs.loss, 'grad_outputs.loss') : [1];
  const r = ctcLoss(rt, logits, targets, inputLengths, targetLengths, {
    blank: (c.attrs.blank as number | undefined) ?? 0,
    reduction,
    zeroInfinity: (c.attrs.zero_infinity as boolean | undefined) ?? false,
    gradOutput: reduction === 'none' ? up : (up[0] ?? 1),
  });
  const [loss, grad] = await rt.readMany([r.loss, r.grad]);
  for (const t of [logits, r.loss, r.grad, r.nll]) t.dispose();
  return { outputs: { loss: loss! }, grads: { logits: grad! } };
};
