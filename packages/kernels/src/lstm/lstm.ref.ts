// Float64 CPU reference of torch.nn.LSTM (multi-layer, bidirectional, dropout masks given),
// forward and backward through time: recurrent/recurrent.ref.ts with the LSTM cell.
import {
  recurrentBackwardRef,
  recurrentRef,
  type RefBackwardArgs,
  type RefForward,
  type RefForwardArgs,
  type RefGrads,
} from '../recurrent/recurrent.ref.js';

export type { RefBackwardArgs, RefForward, RefForwardArgs, RefGrads };

export const lstmRef = (a: RefForwardArgs): RefForward => recurrentRef('lstm', a);
export const lstmBackwardRef = (a: RefBackwardArgs): RefGrads => recurrentBackwardRef('lstm', a);
