// Float64 CPU reference of torch.nn.GRU (multi-layer, bidirectional, dropout masks given),
// forward and backward through time: recurrent/recurrent.ref.ts with the GRU cell.
import {
  recurrentBackwardRef,
  recurrentRef,
  type RefBackwardArgs,
  type RefForward,
  type RefForwardArgs,
  type RefGrads,
} from '../recurrent/recurrent.ref.js';

export type { RefBackwardArgs, RefForward, RefForwardArgs, RefGrads };

export const gruRef = (a: RefForwardArgs): RefForward => recurrentRef('gru', a);
export const gruBackwardRef = (a: RefBackwardArgs): RefGrads => recurrentBackwardRef('gru', a);
