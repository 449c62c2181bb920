/**
 * The shape of a shader-level benchmark. Each op folder exports `benches: BenchSpec[]` from
 * `<op>.bench.ts`; `src/bench/run.ts` times them (wall: submit to onSubmittedWorkDone, as for
 * the peer; GPU time: timestamp queries in separate runs where the adapter has them), warm-up
 * then the median of repeats, next to the same operation in @tensorflow/tfjs-backend-webgpu
 * on the same Dawn adapter.
 */
import type { Runtime } from '@crnn/core';

/** The tfjs namespace (`@tensorflow/tfjs`), typed loosely: it is a dev-only peer. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Tf = any;

export interface BenchInstance {
  /** Records one run of the op (dispatches only; no readback, no flush). */
  run(): void;
  dispose(): void;
}

export interface PeerInstance {
  /** Runs the op once in tfjs; returns the output tensors (the harness waits for them). */
  run(): unknown;
  dispose(): void;
}

export interface BenchSpec {
  /** e.g. 'conv2d_forward', 'lstm_forward_backward'. */
  kernel: string;
  /** Human-readable shape, e.g. 'N8 C1->64 32x100 k3x3'. */
  shape: string;
  /** Floating-point operations of one run (multiply-add = 2), for GFLOP/s. */
  flops?: number;
  /** Bytes moved by one run, for GB/s when flops is not meaningful. */
  bytes?: number;
  setup(rt: Runtime): BenchInstance;
  /** The same operation in tfjs, when tfjs has it. */
  peer?: (tf: Tf) => PeerInstance;
}
