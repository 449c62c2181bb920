/**
 * The benchmark machinery: times one BenchSpec on our runtime and, when a tfjs peer is
 * loaded, the same operation in tfjs-backend-webgpu; formats the results as text or JSON.
 *
 * What one measured run is, on both sides:
 *   wall  performance.now() from the call of run() (recording the dispatches, which is CPU
 *         work that training pays too) to the end of the submitted work, waited for the same
 *         way on both sides: submit, then the queue's onSubmittedWorkDone (ours: Runtime.sync;
 *         the peer: its flush). No readback of results and no timestamp queries in these
 *         runs. Both waits sleep first on a software adapter (IdleWait in @crnn/core)
 *         instead of spinning the JS thread. This is the headline `ms`.
 *   gpu   ours only: GPU nanoseconds between timestamp writes bracketing run()'s compute
 *         passes (`Runtime.timed`), where the adapter has 'timestamp-query', from separate
 *         runs after the wall runs (as many, at most `gpuReps`). They are kept apart because
 *         resolving and mapping the timestamps adds ~0.4 ms of wall time on lavapipe
 *         (measured: an embedding lookup 0.80-0.94 ms through timed() against 0.35-0.53 ms
 *         through sync()), which the peer, timed without timestamps, does not pay.
 * Warm-up runs (pipeline compilation, buffer pool filling) are discarded, ours first, then the
 * peer's; then the measured runs come in blocks of ~`blockMs` (by default one run) that
 * alternate between the two sides (a short run repeats one unmeasured run at the start of each
 * block), until each side has `minReps` runs and `budgetMs` of its own run time, or `maxReps`
 * runs; the median of each side is kept (sampleSides). Both instances are set up before the
 * first run.
 */
import type { Runtime } from '@crnn/core';
import type { BenchInstance, BenchSpec, PeerInstance, Tf } from './types.js';

export interface BenchOptions {
  /** Warm-up: at least one run, more while under this many ms (at most `warmupMaxReps`). */
  warmupMs: number;
  warmupMaxReps: number;
  /** Measured runs: at least `minReps`, then until `budgetMs` has passed, at most `maxReps`. */
  minReps: number;
  maxReps: number;
  budgetMs: number;
  /**
   * With a peer, each side's measured runs come in blocks of about this many ms of its own run
   * time, the blocks alternating between the sides (see sampleSides). 0 (the default): one run
   * per block, so the sides alternate run by run.
   */
  blockMs: number;
  /** Timestamped runs (ours) for the GPU time, after the wall runs: as many, at most this. */
  gpuReps: number;
}

/**
 * Dawn flags for benchmark runtimes: unless told not to, Dawn rounds timestamps down to a
 * coarse step, as browsers do against timing attacks (65.5 us seen on lavapipe, 32.8 us on an
 * H100): a small kernel's whole time on a real GPU.
 */
export const BENCH_DAWN_FLAGS = ['disable-dawn-features=timestamp_quantization'] as const;

export const DEFAULT_OPTIONS: BenchOptions = { warmupMs: 300, warmupMaxReps: 3, minReps: 3, maxReps: 30, budgetMs: 1000, blockMs: 0, gpuReps: 10 };

/** A loaded tfjs with its WebGPU backend: what the harness needs to time a peer. */
export interface PeerEnv {
  /** Printed and reported as `peer`, e.g. 'tfjs-webgpu'. */
  name: string;
  tf: Tf;
  /**
   * Ends tfjs's open pass, submits its encoder, and waits for the queue to drain. `key` names
   * the work (the bench) for the wait's estimate of how long it takes (IdleWait).
   */
  flush(key?: string): Promise<void>;
  /** Releases the peer's device. */
  close(): void;
}

export interface BenchResult {
  kernel: string;
  shape: string;
  /** Headline: median wall ms per run (call of run() to the end of its work). */
  ms: number | null;
  /** Median GPU ms (timestamp queries); null where the adapter lacks them. */
  gpu_ms: number | null;
  gflops: number | null;
  gbps: number | null;
  reps: number;
  peer: string | null;
  peer_ms: number | null;
  /** peer_ms / ms: above 1 means ours is faster. */
  speedup: number | null;
  /** Why ours failed (then ms is null). */
  error?: string;
  /** Why the peer failed (absent when it ran, or when there is no peer to run). */
  peer_error?: string;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** One side of a comparison: a run that returns its wall ms, and what sampling it gave. */
export interface Side {
  once: () => Promise<number>;
  /** Wall ms of the measured runs, in order. */
  walls: number[];
  /** The first error a run threw; the side is not run again after it. */
  error: unknown;
}

export const side = (once: () => Promise<number>): Side => ({ once, walls: [], error: null });

/**
 * A side whose runs are shorter than this (ms) repeats one unmeasured run at the start of each
 * block when another side ran since its last run. Measured on the max-pool values lines
 * (2026-11-22, tenth session): right after the other device's run, ours took 0.3-0.6 ms longer
 * than back to back (its lavapipe threads asleep, its tensors out of the CPU caches), a cost
 * that training, which runs its ops back to back on one device, does not pay, and which added
 * about the same constant to both sides of a ratio. For longer runs it is under 1% and the
 * extra run would only lengthen the bench.
 */
const REWARM_BELOW_MS = 50;

/**
 * Warms each side up (at least one run, more while under `warmupMs`, at most `warmupMaxReps`),
 * then takes measured runs in blocks that alternate between the sides: each block (after one
 * unmeasured run for short runs, see REWARM_BELOW_MS) runs the side back to back until the
 * block holds `blockMs` of its run time, and blocks go on until each side has `minReps` runs and
 * `budgetMs` of its own run time, or `maxReps` runs. Alternating, rather than all of one side
 * and then all of the other, puts both sides through the same stretches of a shared machine's
 * load: on this VM a second's worth of runs can be 30-50% slower than the next, which moved
 * whole ratios when each side had its own second. Measured on the relu / tanh / sigmoid forward
 * lines (2026-11-22, tenth session, three runs each): x2.25-x3.80 with a second per side,
 * x2.07-x4.87 with blocks of 250 ms, x2.22-x3.02 run by run (BENCHMARKS.md). Hence the default
 * blocks of one run. A side whose run throws keeps its error and drops out; the others go on.
 */
export async function sampleSides(sides: readonly Side[], opts: BenchOptions): Promise<void> {
  const attempt = async (s: Side): Promise<number | null> => {
    try {
      return await s.once();
    } catch (e) {
      s.error = e;
      return null;
    }
  };
  // The wall ms of each side's latest run (warm-up or measured).
  const last = sides.map(() => Infinity);
  for (const [i, s] of sides.entries()) {
    const w0 = performance.now();
    let warm = 0;
    do {
      const wall = await attempt(s);
      if (wall === null) break;
      last[i] = wall;
      warm++;
    } while (warm < opts.warmupMaxReps && performance.now() - w0 < opts.warmupMs);
  }
  const spent = sides.map(() => 0);
  const active = (s: Side, i: number) =>
    s.error === null && s.walls.length < opts.maxReps && (s.walls.length < opts.minReps || spent[i]! < opts.budgetMs);
  while (sides.some(active)) {
    for (const [i, s] of sides.entries()) {
      if (!active(s, i)) continue;
      // With two sides every block follows the other side's runs (ours' first block the peer's
      // warm-up), so a short run takes one unmeasured run first.
      if (sides.length > 1 && last[i]! < REWARM_BELOW_MS) {
        const wall = await attempt(s);
        if (wall === null) continue;
      }
      const b0 = spent[i]!;
      do {
        const t0 = performance.now();
        const wall = await attempt(s);
        spent[i]! += performance.now() - t0;
        if (wall === null) break;
        s.walls.push(wall);
        last[i] = wall;
      } while (active(s, i) && spent[i]! - b0 < opts.blockMs);
    }
  }
}

/**
 * One wall run of our instance: run() recorded, then sync(), which submits and waits for
 * onSubmittedWorkDone through the runtime's IdleWait (it sleeps instead of spinning on a
 * software adapter: idle-wait.ts in @crnn/core), as in training and as the peer's flush waits.
 */
function oursOnce(rt: Runtime, inst: BenchInstance): () => Promise<number> {
  return async () => {
    const t0 = performance.now();
    inst.run();
    await rt.sync();
    return performance.now() - t0;
  };
}

/** One wall run of a peer instance: from run() to the drained queue, outputs then disposed. */
function peerOnce(env: PeerEnv, inst: PeerInstance, key: string): () => Promise<number> {
  const tf = env.tf;
  return async () => {
    const t0 = performance.now();
    // tidy disposes the intermediates of run() (a gradient's temporaries) and keeps what it
    // returns, which is disposed after the timing.
    const out: unknown = tf.tidy(() => inst.run());
    await env.flush(key);
    const wall = performance.now() - t0;
    tf.dispose(out);
    return wall;
  };
}

/**
 * Median GPU ms of as many timestamped runs as there were wall runs (at most gpuReps), taken
 * after the wall runs and outside their budget: timed() brackets run()'s passes with
 * timestamp writes. Null where the adapter cannot time.
 */
async function gpuMs(rt: Runtime, inst: BenchInstance, reps: number, opts: BenchOptions): Promise<number | null> {
  if (!rt.canTime) return null;
  const gpus: number[] = [];
  for (let i = 0; i < Math.min(reps, opts.gpuReps); i++) {
    const ns = await rt.timed(() => inst.run());
    if (ns !== null) gpus.push(ns / 1e6);
  }
  return gpus.length > 0 ? median(gpus) : null;
}

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);

/** Runs one spec on our side and, when `peer` is given and the spec has one, on tfjs. */
export async function runBench(rt: Runtime, spec: BenchSpec, peer: PeerEnv | null, opts: BenchOptions = DEFAULT_OPTIONS): Promise<BenchResult> {
  const r: BenchResult = {
    kernel: spec.kernel,
    shape: spec.shape,
    ms: null,
    gpu_ms: null,
    gflops: null,
    gbps: null,
    reps: 0,
    peer: null,
    peer_ms: null,
    speedup: null,
  };
  let inst: BenchInstance | null = null;
  let p: PeerInstance | null = null;
  const sides: Side[] = [];
  let ours: Side | null = null;
  let theirs: Side | null = null;
  try {
    try {
      inst = spec.setup(rt);
      await rt.sync(); // uploads of setup() land before the clock starts
      ours = side(oursOnce(rt, inst));
      sides.push(ours);
    } catch (e) {
      r.error = errText(e);
    }
    if (peer && spec.peer) {
      try {
        p = spec.peer(peer.tf);
        await peer.flush();
        theirs = side(peerOnce(peer, p, `${spec.kernel} ${spec.shape}`));
        sides.push(theirs);
      } catch (e) {
        r.peer_error = errText(e);
      }
    }
    await sampleSides(sides, opts);
    if (ours && ours.error === null && inst) {
      r.ms = median(ours.walls);
      r.reps = ours.walls.length;
      try {
        r.gpu_ms = await gpuMs(rt, inst, r.reps, opts);
        // Rates from the headline (wall) time, which is what training gets.
        if (spec.flops !== undefined && r.ms > 0) r.gflops = spec.flops / (r.ms * 1e6);
        if (spec.bytes !== undefined && r.ms > 0) r.gbps = spec.bytes / (r.ms * 1e6);
      } catch (e) {
        // A run that fails only when timed fails the bench as a whole, as any failed run does.
        r.error = errText(e);
        r.ms = null;
        r.reps = 0;
      }
    } else if (ours) {
      r.error = errText(ours.error);
    }
    if (r.error !== undefined) {
      // Drop whatever the failed run left recorded so the next spec starts clean.
      await rt.sync().catch(() => undefined);
    }
    if (theirs && theirs.error === null) {
      r.peer = peer!.name;
      r.peer_ms = median(theirs.walls);
      if (r.ms !== null && r.ms > 0) r.speedup = r.peer_ms / r.ms;
    } else if (theirs) {
      r.peer_error = errText(theirs.error);
    }
  } finally {
    for (const d of [inst, p]) {
      try {
        d?.dispose();
      } catch {
        /* a failed setup may leave nothing to dispose */
      }
    }
  }
  return r;
}

// ---- selection and output ----------------------------------------------------------------

/**
 * The specs of `modules` (src/bench/all.ts) whose kernel matches `filters`, in order. A module
 * that fails to load is reported through `warn`, counted, and skipped.
 */
export async function loadSpecs(
  modules: ReadonlyArray<readonly [string, () => Promise<{ benches: BenchSpec[] }>]>,
  filters: readonly string[],
  warn: (msg: string) => void,
): Promise<{ specs: BenchSpec[]; failed: number }> {
  const specs: BenchSpec[] = [];
  let failed = 0;
  for (const [op, load] of modules) {
    try {
      const mod = await load();
      specs.push(...mod.benches.filter((s) => matchesFilter(s.kernel, filters)));
    } catch (e) {
      failed++;
      warn(`bench: cannot load ${op}.bench.js: ${errText(e)}`);
    }
  }
  return { specs, failed };
}

/**
 * Whether a kernel name matches any of the filters: each is a case-insensitive regular
 * expression (plain words are substrings), or a plain substring when it does not parse.
 * No filter selects everything.
 */
export function matchesFilter(kernel: string, filters: readonly string[]): boolean {
  if (filters.length === 0) return true;
  return filters.some((f) => {
    try {
      return new RegExp(f, 'i').test(kernel);
    } catch {
      return kernel.toLowerCase().includes(f.toLowerCase());
    }
  });
}

const fix = (v: number | null, digits: number): string => (v === null || !Number.isFinite(v) ? '-' : v.toFixed(digits));

/** Column header of the text output. */
export function formatHeader(): string {
  return [
    'kernel'.padEnd(36),
    'shape'.padEnd(44),
    'ms'.padStart(10),
    'gpu ms'.padStart(10),
    'rate'.padStart(14),
    'peer ms'.padStart(10),
    'speed-up'.padStart(9),
  ].join(' ');
}

/** One text line per bench: kernel, shape, ms, gpu ms, GFLOP/s or GB/s, peer ms, speed-up. */
export function formatLine(r: BenchResult): string {
  const rate = r.gflops !== null ? `${fix(r.gflops, 2)} GFLOP/s` : r.gbps !== null ? `${fix(r.gbps, 2)} GB/s` : '-';
  const cols = [
    r.kernel.padEnd(36),
    r.shape.padEnd(44),
    fix(r.ms, 3).padStart(10),
    fix(r.gpu_ms, 3).padStart(10),
    rate.padStart(14),
    fix(r.peer_ms, 3).padStart(10),
    (r.speedup === null ? '-' : `x${fix(r.speedup, 2)}`).padStart(9),
  ];
  let line = cols.join(' ');
  if (r.error) line += `  ERROR: ${r.error}`;
  if (r.peer_error) line += `  peer error: ${r.peer_error}`;
  return line;
}

/** One JSON object per bench, the fields in a fixed order. */
export function formatJson(r: BenchResult): string {
  const o: Record<string, unknown> = {
    kernel: r.kernel,
    shape: r.shape,
    ms: r.ms,
    gflops: r.gflops,
    peer: r.peer,
    peer_ms: r.peer_ms,
    speedup: r.speedup,
    gbps: r.gbps,
    gpu_ms: r.gpu_ms,
    reps: r.reps,
  };
  if (r.error) o.error = r.error;
  if (r.peer_error) o.peer_error = r.peer_error;
  return JSON.stringify(o);
}

export interface CliArgs {
  json: boolean;
  peers: boolean;
  list: boolean;
  filters: string[];
  opts: BenchOptions;
  /** Whole-run bound: benches not started by then are skipped (reported on stderr). */
  maxSeconds: number;
}

export const USAGE = `usage: npm run bench -- [filter ...] [--json] [--no-peer] [--list]
                     [--time-ms=N] [--block-ms=N] [--max-reps=N] [--min-reps=N] [--max-seconds=N]
  filter          run only kernels whose name matches (case-insensitive regex or substring)
  --json          one JSON object per line: kernel, shape, ms, gflops, peer, peer_ms, speedup, ...
  --no-peer       do not load tfjs
  --list          print the selected benches without running them
  --time-ms=N     measuring budget per bench and side (default ${DEFAULT_OPTIONS.budgetMs})
  --block-ms=N    measured runs come in blocks of ~N ms per side, alternating with the peer's
                  (default ${DEFAULT_OPTIONS.blockMs}: one run per block)
  --max-reps=N    at most N measured runs (default ${DEFAULT_OPTIONS.maxReps})
  --min-reps=N    at least N measured runs (default ${DEFAULT_OPTIONS.minReps})
  --max-seconds=N start no bench after N seconds (default 540)`;

export function parseArgs(argv: readonly string[]): CliArgs {
  const a: CliArgs = { json: false, peers: true, list: false, filters: [], opts: { ...DEFAULT_OPTIONS }, maxSeconds: 540 };
  const num = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || v === '' || !Number.isFinite(n) || n < min) throw new Error(`${flag} needs a number >= ${min}, got ${v ?? 'nothing'}\n${USAGE}`);
    return n;
  };
  for (const arg of argv) {
    const [flag, value] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    switch (flag) {
      case '--json':
        a.json = true;
        break;
      case '--no-peer':
        a.peers = false;
        break;
      case '--list':
        a.list = true;
        break;
      case '--time-ms':
        a.opts.budgetMs = num(flag, value, 0);
        break;
      case '--block-ms':
        a.opts.blockMs = num(flag, value, 0);
        break;
      case '--max-reps':
        a.opts.maxReps = Math.floor(num(flag, value, 1));
        break;
      case '--min-reps':
        a.opts.minReps = Math.floor(num(flag, value, 1));
        break;
      case '--max-seconds':
        a.maxSeconds = num(flag, value, 1);
        break;
      case '--help':
      case '-h':
        throw new Error(USAGE);
      default:
        if (flag.startsWith('-')) throw new Error(`unknown option ${arg}\n${USAGE}`);
        a.filters.push(flag);
    }
  }
  a.opts.minReps = Math.min(a.opts.minReps, a.opts.maxReps);
  return a;
}
