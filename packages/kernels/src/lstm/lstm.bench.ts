/**
 * 2-layer bidirectional LSTM, T 24, N 8, input 512, hidden 256: forward, and forward +
 * backward (every parameter's gradient and dx), next to tfjs's
 * layers.bidirectional(layers.lstm) stack (see recurrent/rnn-bench.ts).
 */
import type { BenchSpec } from '../bench/types.js';
import { rnnBenches } from '../recurrent/rnn-bench.js';
import { LSTM_CELL } from './lstm.js';

export const benches: BenchSpec[] = rnnBenches(LSTM_CELL);
