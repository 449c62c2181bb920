/**
 * The benchmark machinery on tiny specs with very few runs: what it reports and in which
 * format, never how fast anything is.
 */
import { Runtime, type Tensor } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { relu } from '../elementwise/elementwise.js';
import { benchModules } from './all.js';
import {
  formatJson,
  formatLine,
  loadSpecs,
  matchesFilter,
  median,
  parseArgs,
  runBench,
  sampleSides,
  side,
  type BenchOptions,
  type BenchResult,
  type PeerEnv,
} from './harness.js';
import { loadTfPeer } from './tfjs-peer.js';
import type { BenchSpec, Tf } from './types.js';

const FEW: BenchOptions = { warmupMs: 0, warmupMaxReps: 1, minReps: 2, maxReps: 3, budgetMs: 0, blockMs: 0, gpuReps: 1 };
const REQUIRED = ['kernel', 'shape', 'ms', 'gflops', 'peer', 'peer_ms', 'speedup'] as const;

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

interface Counter {
  ours: number;
  peer: number;
  disposed: number;
  /** 'o' / 'p' per run of ours / the peer's, in order. */
  order?: string[];
}

/** relu on 64 values; counts its runs so the test can see warm-up plus measured runs. */
function tinySpec(counter: Counter): BenchSpec {
  return {
    kernel: 'tiny_relu',
    shape: '[64]',
    flops: 64,
    bytes: 2 * 64 * 4,
    setup(r) {
      const x = r.upload(Float32Array.from({ length: 64 }, (_, i) => i - 32), [64]);
      let y: Tensor | null = null;
      return {
        run() {
          counter.ours++;
          counter.order?.push('o');
          y?.dispose();
          y = relu(r, x);
        },
        dispose() {
          counter.disposed++;
          y?.dispose();
          x.dispose();
        },
      };
    },
    peer(tf: Tf) {
      const x = tf.tensor(Float32Array.from({ length: 64 }, (_, i) => i - 32), [64]);
      return {
        run: () => {
          counter.peer++;
          counter.order?.push('p');
          return tf.relu(x);
        },
        dispose: () => {
          counter.disposed++;
          x.dispose();
        },
      };
    },
  };
}

/** A stand-in for tfjs: enough for the harness (tidy, dispose) and a flush that counts. */
function fakePeer(): PeerEnv & { flushes: number; tidied: number } {
  const env = {
    name: 'fake-peer',
    flushes: 0,
    tidied: 0,
    tf: {
      tidy: (f: () => unknown) => {
        env.tidied++;
        return f();
      },
      dispose: () => undefined,
      relu: () => ({}),
      tensor: () => ({ dispose: () => undefined }),
    },
    async flush() {
      env.flushes++;
    },
    close: () => undefined,
  };
  return env;
}

function expectJsonLine(r: BenchResult, numeric: readonly string[], nulls: readonly string[]): Record<string, unknown> {
  const line = formatJson(r);
  expect(line).not.toContain('\n');
  const o = JSON.parse(line) as Record<string, unknown>;
  for (const k of REQUIRED) expect(o, `field ${k}`).toHaveProperty(k);
  for (const k of numeric) {
    expect(typeof o[k], `field ${k} = ${String(o[k])}`).toBe('number');
    expect(Number.isFinite(o[k] as number), `field ${k} finite`).toBe(true);
  }
  for (const k of nulls) expect(o[k], `field ${k}`).toBeNull();
  return o;
}

describe('bench harness', () => {
  it('times ours and a peer, and formats the result as JSON and text', async () => {
    const counter = { ours: 0, peer: 0, disposed: 0 };
    const peer = fakePeer();
    const timed = vi.spyOn(rt, 'timed');
    const synced = vi.spyOn(rt, 'sync');
    const r = await runBench(rt, tinySpec(counter), peer, FEW);
    expect(r.error).toBeUndefined();
    expect(r.peer_error).toBeUndefined();
    // One warm-up run, then minReps (budget 0) measured runs in blocks of one (blockMs 0), each
    // after an unmeasured run (runs this short re-warm at every block), on each side; on ours
    // the wall runs wait through sync() as the peer does (no timestamps), then gpuReps timed()
    // runs.
    expect(r.reps).toBe(2);
    const gpuRuns = rt.canTime ? 1 : 0;
    expect(timed).toHaveBeenCalledTimes(gpuRuns);
    expect(synced.mock.calls.length).toBeGreaterThanOrEqual(5);
    timed.mockRestore();
    synced.mockRestore();
    expect(counter.ours).toBe(5 + gpuRuns);
    expect(counter.peer).toBe(5);
    expect(peer.tidied).toBe(5);
    expect(peer.flushes).toBeGreaterThanOrEqual(5);
    expect(counter.disposed).toBe(2);
    const o = expectJsonLine(r, ['ms', 'gflops', 'gbps', 'peer_ms', 'speedup'], []);
    expect(o.kernel).toBe('tiny_relu');
    expect(o.shape).toBe('[64]');
    expect(o.peer).toBe('fake-peer');
    expect(o.ms as number).toBeGreaterThan(0);
    // Rates and the speed-up follow from the times.
    expect(o.gflops as number).toBeCloseTo(64 / ((o.ms as number) * 1e6), 12);
    expect(o.gbps as number).toBeCloseTo(512 / ((o.ms as number) * 1e6), 12);
    expect(o.speedup as number).toBeCloseTo((o.peer_ms as number) / (o.ms as number), 12);
    if (rt.canTime) expect(typeof o.gpu_ms).toBe('number');
    else expect(o.gpu_ms).toBeNull();

    const line = formatLine(r);
    expect(line.startsWith('tiny_relu')).toBe(true);
    expect(line).toContain('[64]');
    expect(line).toContain((o.ms as number).toFixed(3));
    expect(line).toContain('GFLOP/s');
    expect(line).toMatch(/x\d+\.\d\d$/);
  });

  it('alternates blocks of measured runs between ours and the peer, short runs re-warming first', async () => {
    const counter: Counter = { ours: 0, peer: 0, disposed: 0, order: [] };
    const ones: BenchOptions = { warmupMs: 0, warmupMaxReps: 1, minReps: 4, maxReps: 4, budgetMs: 0, blockMs: 0, gpuReps: 0 };
    const r = await runBench(rt, tinySpec(counter), fakePeer(), ones);
    expect(r.error).toBeUndefined();
    expect(r.reps).toBe(4);
    // One warm-up each (ours, then the peer's), then blocks of one measured run (blockMs 0),
    // each after an unmeasured one: these runs are far under REWARM_BELOW_MS.
    expect(counter.order!.join('')).toBe('op' + 'oopp'.repeat(4));
    // One block per side when the block is longer than the whole budget.
    const long: Counter = { ours: 0, peer: 0, disposed: 0, order: [] };
    await runBench(rt, tinySpec(long), fakePeer(), { ...ones, minReps: 3, maxReps: 3, blockMs: 1e9 });
    expect(long.order!.join('')).toBe('op' + 'oooo' + 'pppp');
    // A side that fails drops out and the other keeps its turns: the peer throws on its third
    // call (its first measured run), ours goes on to maxReps alone.
    const order: string[] = [];
    let calls = 0;
    const flaky: BenchSpec = {
      ...tinySpec({ ours: 0, peer: 0, disposed: 0, order }),
      peer: () => ({
        run: () => {
          order.push('p');
          if (++calls === 3) throw new Error('peer broke mid-run');
          return {};
        },
        dispose: () => undefined,
      }),
    };
    const f = await runBench(rt, flaky, fakePeer(), ones);
    expect(order.join('')).toBe('op' + 'oopp' + 'oo'.repeat(3));
    expect(f.error).toBeUndefined();
    expect(f.reps).toBe(4);
    expect(f).toMatchObject({ peer: null, peer_ms: null, speedup: null, peer_error: 'peer broke mid-run' });
  });

  it('re-warms only sides whose runs are short, and a lone side never', async () => {
    const order: string[] = [];
    // Reported walls of 100 ms (returned at once): above REWARM_BELOW_MS, so no unmeasured runs.
    const slow = (tag: string) => side(async () => (order.push(tag), 100));
    const opts: BenchOptions = { warmupMs: 0, warmupMaxReps: 1, minReps: 2, maxReps: 2, budgetMs: 0, blockMs: 0, gpuReps: 0 };
    const [a, b] = [slow('a'), slow('b')];
    await sampleSides([a, b], opts);
    expect(order.join('')).toBe('ab' + 'abab');
    expect(a.walls).toEqual([100, 100]);
    order.length = 0;
    const fast = side(async () => (order.push('f'), 1));
    await sampleSides([fast], opts);
    expect(order.join('')).toBe('fff');
    expect(fast.walls).toEqual([1, 1]);
  });

  it('reports null peer fields without a peer, and an error instead of throwing', async () => {
    const counter = { ours: 0, peer: 0, disposed: 0 };
    const r = await runBench(rt, tinySpec(counter), null, FEW);
    expectJsonLine(r, ['ms', 'gflops'], ['peer', 'peer_ms', 'speedup']);
    expect(counter.peer).toBe(0);
    expect(formatLine(r)).toMatch(/-\s+-$/);

    const broken: BenchSpec = {
      kernel: 'broken',
      shape: '[1]',
      setup: () => ({
        run: () => {
          throw new Error('no such kernel');
        },
        dispose: () => undefined,
      }),
    };
    const b = await runBench(rt, broken, fakePeer(), FEW);
    expect(b.error).toMatch(/no such kernel/);
    expect(b.ms).toBeNull();
    expect(b.peer_error).toBeUndefined(); // the spec has no peer: nothing failed there
    expect(b.peer).toBeNull();
    expect(formatLine(b)).toContain('ERROR: no such kernel');
    expect(JSON.parse(formatJson(b))).toMatchObject({ kernel: 'broken', ms: null, speedup: null, error: 'no such kernel' });
    const peerFails: BenchSpec = {
      ...tinySpec(counter),
      peer: () => ({
        run: () => {
          throw new Error('tf op missing');
        },
        dispose: () => undefined,
      }),
    };
    const pf = await runBench(rt, peerFails, fakePeer(), FEW);
    expect(pf.error).toBeUndefined();
    expect(pf.ms!).toBeGreaterThan(0);
    expect(pf).toMatchObject({ peer: null, peer_ms: null, speedup: null, peer_error: 'tf op missing' });
    expect(formatLine(pf)).toContain('peer error: tf op missing');
    // The runtime is still usable after the failure.
    const again = await runBench(rt, tinySpec(counter), null, FEW);
    expect(again.error).toBeUndefined();
  });

  it('times the same spec against real tfjs-backend-webgpu', async () => {
    const peer = await loadTfPeer();
    try {
      const counter = { ours: 0, peer: 0, disposed: 0 };
      const r = await runBench(rt, tinySpec(counter), peer, FEW);
      expect(r.peer_error, r.peer_error).toBeUndefined();
      expectJsonLine(r, ['ms', 'peer_ms', 'speedup'], []);
      expect(r.peer).toBe('tfjs-webgpu');
      // Small inputs run on tfjs's GPU path too, not its CPU hand-off.
      expect(peer.tf.env().getBool('WEBGPU_CPU_FORWARD')).toBe(false);
      // tidy + dispose leave no tfjs tensor behind but the spec's input, now disposed too.
      expect(peer.tf.memory().numTensors).toBe(0);
    } finally {
      peer.close();
    }
  });
});

describe('bench selection and arguments', () => {
  it('loads every bench module of all.ts with well-formed specs', async () => {
    const warnings: string[] = [];
    const { specs, failed } = await loadSpecs(benchModules, [], (m) => warnings.push(m));
    expect(warnings).toEqual([]);
    expect(failed).toBe(0);
    expect(specs.length).toBeGreaterThan(0);
    const seen = new Set<string>();
    for (const s of specs) {
      expect(s.kernel).toMatch(/^[a-z0-9_]+$/);
      expect(s.shape.length).toBeGreaterThan(0);
      expect(typeof s.setup).toBe('function');
      for (const v of [s.flops, s.bytes]) if (v !== undefined) expect(v).toBeGreaterThan(0);
      const key = `${s.kernel} ${s.shape}`;
      expect(seen.has(key), `duplicate ${key}`).toBe(false);
      seen.add(key);
    }
    const relus = await loadSpecs(benchModules, ['relu'], () => undefined);
    expect(relus.specs.length).toBeGreaterThan(0);
    expect(relus.specs.every((s) => s.kernel.includes('relu'))).toBe(true);
  });

  it('counts and reports a module that fails to load', async () => {
    const warnings: string[] = [];
    const mods = [
      ['good', async () => ({ benches: [tinySpec({ ours: 0, peer: 0, disposed: 0 })] })],
      ['bad', () => Promise.reject(new Error('syntax error'))],
    ] as const;
    const { specs, failed } = await loadSpecs(mods, [], (m) => warnings.push(m));
    expect(specs.map((s) => s.kernel)).toEqual(['tiny_relu']);
    expect(failed).toBe(1);
    expect(warnings[0]).toMatch(/bad\.bench\.js: syntax error/);
  });

  it('matches filters as case-insensitive regexes or substrings', () => {
    expect(matchesFilter('conv2d_forward', [])).toBe(true);
    expect(matchesFilter('conv2d_forward', ['conv2d'])).toBe(true);
    expect(matchesFilter('conv2d_forward', ['CONV'])).toBe(true);
    expect(matchesFilter('conv2d_forward', ['^relu', 'forward$'])).toBe(true);
    expect(matchesFilter('conv2d_forward', ['^relu', 'lstm'])).toBe(false);
    expect(matchesFilter('a(b', ['a(b'])).toBe(true); // not a regex: a substring
  });

  it('parses flags and filters, and rejects bad ones', () => {
    const a = parseArgs(['conv2d', '--json', '--no-peer', '--time-ms=200', '--block-ms=50', '--max-reps=5', 'lstm']);
    expect(a.json).toBe(true);
    expect(a.peers).toBe(false);
    expect(a.filters).toEqual(['conv2d', 'lstm']);
    expect(a.opts.budgetMs).toBe(200);
    expect(a.opts.blockMs).toBe(50);
    expect(a.opts.maxReps).toBe(5);
    const d = parseArgs([]);
    expect(d).toMatchObject({ json: false, peers: true, list: false, filters: [] });
    expect(d.opts.minReps).toBeLessThanOrEqual(d.opts.maxReps);
    expect(() => parseArgs(['--jsn'])).toThrow(/unknown option --jsn/);
    expect(() => parseArgs(['--max-reps=0'])).toThrow(/--max-reps/);
    expect(() => parseArgs(['--time-ms=abc'])).toThrow(/--time-ms/);
  });

  it('takes medians of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(Number.isNaN(median([]))).toBe(true);
  });
});
