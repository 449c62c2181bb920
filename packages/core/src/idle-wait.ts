/**
 * Waiting for a software adapter without taking a core from it.
 *
 * Dawn's Node bindings (the `webgpu` package, 0.6.x) resolve GPU promises (mapAsync,
 * onSubmittedWorkDone) by re-queueing a setImmediate tick for as long as any of them is
 * pending, so the JS thread spins at 100% of a core while it waits. On a real GPU that costs
 * nothing the GPU needs; on lavapipe the "GPU" is a pool of CPU threads, and on a 2-core
 * machine the spinning thread takes one of the two cores they run on. Measured (matmul
 * 1024^3, 10 runs, `/proc/self/task/<tid>/stat`): awaiting at once, the JS thread burned
 * 1.94 s of CPU in 2.19 s and a run took 170-276 ms; sleeping first, it burned 0.30 s and a
 * run took 154-160 ms when the sleep did not overshoot.
 *
 * So before starting such a promise we sleep through most of the time the same work took
 * the last times. "The same work" is keyed by the caller (the runtime uses the number of
 * dispatches since the previous wait); the clock runs from the first submit of that work, so
 * host time spent after the submit counts towards it. The estimate is the smaller of the
 * last two observed spans, halved when the work was already done as the sleep ended (an
 * overshoot), so a stale estimate (smaller work under the same key) decays quickly; short
 * work (under 20 ms) is never slept for.
 *
 * What is left after the sleep (and all of short work) is polled patiently: while a wait's
 * promise is pending, Dawn's ticks (native callbacks it hands to the global `setImmediate`,
 * which it looks up on every tick) are held back by a pause that grows with the age of the
 * work, 1/20 of it, between 0.05 and 2 ms: under a millisecond a blocking `Atomics.wait` (the
 * event loop has nothing else to do then, and Node's timers count whole ms), from 1 ms a
 * timer. The thread sleeps between polls instead of spinning; work younger than 0.3 ms is
 * still polled at once, which keeps the smallest kernels at their latency. Any other
 * `setImmediate` passes through. Measured on the same machine (matmul 1024^3, 12 runs per
 * process, three processes each): sleeping alone, median 196-229 ms per run with the JS
 * thread at 0.8 s of CPU; sleeping and polling patiently, 156-175 ms and 0.09 s. BiLSTM
 * forward+backward (median of 8 runs, two processes each): 536 and 506 ms -> 347 and 346 ms.
 */

import type { DeviceInfo } from './device.js';

/** Sleep this share of the estimate, then poll (patiently) through the rest. */
const SLEEP_SHARE = 0.85;
/**
 * Work estimated shorter than this (ms) is waited for at once. Besides the timer's own
 * granularity, a sleep that ends after the work does adds the promise's resolution latency to
 * the next observed span; below a few tens of ms that latency could hold the estimate above
 * the work (its fixed point is latency / (1 - SLEEP_SHARE)).
 */
const MIN_SPAN_MS = 20;
/** A promise that resolves this soon (ms) after a sleep was already done when it started. */
const OVERSHOOT_MS = 1;
/** At most this many distinct keys are remembered (oldest dropped first). */
const MAX_KEYS = 256;

export class IdleWait {
  /** Per key the last (at most two) observed spans (ms), older first. */
  private readonly spans = new Map<string, number[]>();

  /** `enabled` false: every wait starts its promise at once (real GPUs, browsers). */
  constructor(readonly enabled: boolean) {}

  /**
   * The estimate for `key`: the smaller of its last two spans, so that one long outlier (the
   * first run compiling its pipelines, a stall) does not make the next wait oversleep; null
   * before two waits were seen.
   */
  estimate(key: string): number | null {
    const s = this.spans.get(key);
    return s && s.length === 2 ? Math.min(s[0]!, s[1]!) : null;
  }

  /**
   * Awaits `start()` for work that began at `since` (performance.now() of its first submit),
   * sleeping first when earlier work under `key` took long enough.
   */
  async wait<T>(key: string, since: number, start: () => Promise<T>): Promise<T> {
    if (!this.enabled) return start();
    const est = this.estimate(key);
    let slept = false;
    if (est !== null && est >= MIN_SPAN_MS) {
      const sleepMs = est * SLEEP_SHARE - (performance.now() - since);
      if (sleepMs > 0) {
        await new Promise<void>((r) => setTimeout(r, sleepMs));
        slept = true;
      }
    }
    const started = performance.now();
    let out: T;
    const release = patientPoll(since);
    try {
      out = await start();
    } finally {
      release();
    }
    const end = performance.now();
    const prev = this.spans.get(key);
    this.spans.delete(key); // re-inserted last: the map's order is least recently used first
    if (slept && end - started < OVERSHOOT_MS) {
      // Done within a tick of the sleep's end: the work ended at some unknown point during
      // the sleep, so halve the estimate rather than trust a span that is only the sleep.
      this.spans.set(key, [est! / 2, est! / 2]);
    } else {
      const span = end - since;
      this.spans.set(key, [...(prev ?? []).slice(-1), span]);
    }
    if (this.spans.size > MAX_KEYS) this.spans.delete(this.spans.keys().next().value!);
    return out;
  }
}

/** Polls spin (plain setImmediate) until the work has taken this long (ms). */
const SPIN_MS = 0.3;
/**
 * Then each poll waits age / POLL_DIVISOR ms (age: time since the work's first submit), at
 * least MIN_POLL_MS and at most MAX_POLL_MS: the added latency stays within 5% of the work
 * (and 2 ms), the polls' CPU time is a few per cent of a core.
 */
const POLL_DIVISOR = 20;
const MIN_POLL_MS = 0.05;
const MAX_POLL_MS = 2;

type Immediate = (fn: (...args: unknown[]) => void, ...args: unknown[]) => unknown;
/** Waits in progress, each with the start of its work; the patch is installed while any is. */
const patients = new Set<{ since: number }>();
let realSetImmediate: Immediate | null = null;
const fnToString = Function.prototype.toString;
/**
 * The cell blocking naps wait on, made at the first nap: a page that is not cross-origin
 * isolated has no SharedArrayBuffer, and this module must still load there.
 */
let napCell: Int32Array | null = null;

function isNative(fn: unknown): boolean {
  return typeof fn === 'function' && fnToString.call(fn).endsWith('{ [native code] }');
}

/**
 * Defers Dawn's native polling ticks while a wait for work begun at `since` is pending; returns
 * the release. With several waits pending, the most recent work's age sets the interval.
 */
export function patientPoll(since: number): () => void {
  const g = globalThis as unknown as { setImmediate?: Immediate };
  if (typeof g.setImmediate !== 'function') return () => undefined; // not Node
  const entry = { since };
  if (patients.size === 0) {
    const real = g.setImmediate;
    realSetImmediate = real;
    g.setImmediate = function patientSetImmediate(fn, ...args) {
      if (!isNative(fn) || patients.size === 0) return real(fn, ...args);
      let youngest = -Infinity;
      for (const p of patients) youngest = Math.max(youngest, p.since);
      const age = performance.now() - youngest;
      if (age < SPIN_MS) return real(fn, ...args);
      const interval = Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, age / POLL_DIVISOR));
      if (interval < 1) {
        // Node's timers count whole milliseconds: shorter naps block the (idle) thread.
        napCell ??= new Int32Array(new SharedArrayBuffer(4));
        Atomics.wait(napCell, 0, 0, interval);
        return real(fn, ...args);
      }
      return setTimeout(fn, Math.floor(interval), ...args);
    };
  }
  patients.add(entry);
  return () => {
    if (!patients.delete(entry) || patients.size > 0) return;
    if (realSetImmediate) g.setImmediate = realSetImmediate;
    realSetImmediate = null;
  };
}

/**
 * Whether waits should sleep first and then poll patiently: a software adapter driven from
 * Node (browsers do not spin the page's thread). `CRNN_IDLE_WAIT=0` or `=1` overrides.
 */
export function idleWaitWanted(info: Pick<DeviceInfo, 'isSoftware' | 'platform'>): boolean {
  const env = typeof process !== 'undefined' ? process.env?.CRNN_IDLE_WAIT : undefined;
  if (env === '0' || env === '1') return env === '1';
  return info.isSoftware && info.platform === 'node';
}
