/**
 * 2-layer bidirectional GRU, T 24, N 8, input 512, hidden 256: forward, and forward +
 * backward (every parameter's gradient and dx), next to tfjs's
 * layers.bidirectional(layers.gru) stack (see recurrent/rnn-bench.ts).
 */
import type { BenchSpec } from '../bench/types.js';
import { rnnBenches } from '../recurrent/rnn-bench.js';
import { GRU_CELL } from './gru.js';

export const benches: BenchSpec[] = rnnBenches(GRU_CELL);
