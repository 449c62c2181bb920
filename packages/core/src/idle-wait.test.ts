import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdleWait, idleWaitWanted, patientPoll } from './idle-wait.js';

/**
 * Work that began at `since` and takes `ms`: start() is the promise a GPU wait would start
 * (it resolves when the work is done, or at once if it already is) and records when it was
 * started, which is when the JS thread would begin to spin.
 */
function work(since: number, ms: number) {
  const w = {
    startedAt: -1,
    start: () => {
      w.startedAt = performance.now();
      const left = Math.max(0, since + ms - performance.now());
      return new Promise<string>((r) => setTimeout(() => r('done'), left));
    },
  };
  return w;
}

async function run(idle: IdleWait, key: string, since: number, ms: number) {
  const w = work(since, ms);
  const p = idle.wait(key, since, w.start);
  await vi.runAllTimersAsync();
  expect(await p).toBe('done');
  return { sleptFor: w.startedAt - since, endedAt: performance.now() };
}

describe('IdleWait', () => {
  beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] }));
  afterEach(() => void vi.useRealTimers());

  it('starts at once until two spans were seen, then sleeps 85% of the smaller', async () => {
    const idle = new IdleWait(true);
    expect((await run(idle, 'k', performance.now(), 100)).sleptFor).toBe(0);
    expect(idle.estimate('k')).toBeNull();
    expect((await run(idle, 'k', performance.now(), 120)).sleptFor).toBe(0);
    expect(idle.estimate('k')).toBe(100);
    expect((await run(idle, 'k', performance.now(), 100)).sleptFor).toBeCloseTo(85, 6);
  });

  it('is not misled by one long first span (pipeline compilation)', async () => {
    const idle = new IdleWait(true);
    await run(idle, 'k', performance.now(), 900);
    await run(idle, 'k', performance.now(), 50);
    expect(Math.abs((await run(idle, 'k', performance.now(), 50)).sleptFor - 42.5)).toBeLessThanOrEqual(1);
  });

  it('counts time already spent since the submit against the sleep', async () => {
    const idle = new IdleWait(true);
    for (let i = 0; i < 2; i++) await run(idle, 'k', performance.now(), 100);
    const since = performance.now();
    vi.advanceTimersByTime(60); // host work after the submit
    const r = await run(idle, 'k', since, 100);
    expect(r.sleptFor).toBeCloseTo(85, 6); // 25 ms of sleep after the 60 ms of host work
    vi.advanceTimersByTime(200);
    const late = await run(idle, 'k', performance.now() - 200, 100); // already done: no sleep
    expect(late.sleptFor).toBe(200);
  });

  it('halves the estimate when the work was done before the sleep ended', async () => {
    const idle = new IdleWait(true);
    for (let i = 0; i < 2; i++) await run(idle, 'k', performance.now(), 400);
    // The same key now names much shorter work: each sleep overshoots and halves the estimate.
    const sleeps: number[] = [];
    for (let i = 0; i < 4; i++) sleeps.push((await run(idle, 'k', performance.now(), 10)).sleptFor);
    // (fake timers fire at whole milliseconds: 42.5 ms may read 42)
    [340, 170, 85, 42.5].forEach((want, i) => expect(Math.abs(sleeps[i]! - want), `sleep ${i}: got ${sleeps[i]}, want ${want}`).toBeLessThanOrEqual(1));
    // Once the estimate is under 20 ms it waits at once and learns the true span again.
    expect(idle.estimate('k')).toBe(25);
    expect(Math.abs((await run(idle, 'k', performance.now(), 10)).sleptFor - 21.25)).toBeLessThanOrEqual(1);
    expect(idle.estimate('k')).toBeCloseTo(12.5, 6);
    expect((await run(idle, 'k', performance.now(), 10)).sleptFor).toBe(0);
    expect((await run(idle, 'k', performance.now(), 10)).sleptFor).toBe(0);
    expect(idle.estimate('k')).toBe(10);
  });

  it('never sleeps for short work', async () => {
    const idle = new IdleWait(true);
    for (let i = 0; i < 3; i++) expect((await run(idle, 'k', performance.now(), 15)).sleptFor).toBe(0);
    expect(idle.estimate('k')).toBe(15);
  });

  it('keeps one estimate per key', async () => {
    const idle = new IdleWait(true);
    for (let i = 0; i < 2; i++) {
      await run(idle, 'long', performance.now(), 300);
      await run(idle, 'short', performance.now(), 40);
    }
    expect((await run(idle, 'long', performance.now(), 300)).sleptFor).toBeCloseTo(255, 6);
    expect((await run(idle, 'short', performance.now(), 40)).sleptFor).toBeCloseTo(34, 6);
    expect((await run(idle, 'new', performance.now(), 40)).sleptFor).toBe(0);
  });

  it('never sleeps when disabled', async () => {
    const idle = new IdleWait(false);
    for (let i = 0; i < 2; i++) await run(idle, 'k', performance.now(), 100);
    expect((await run(idle, 'k', performance.now(), 100)).sleptFor).toBe(0);
  });

  it('passes a rejection through', async () => {
    const idle = new IdleWait(true);
    await expect(idle.wait('k', performance.now(), () => Promise.reject(new Error('device lost')))).rejects.toThrow('device lost');
  });
});

describe('patientPoll', () => {
  const realImmediate = globalThis.setImmediate;
  /** One turn of the real event loop's check phase. */
  const turn = () => new Promise<void>((r) => realImmediate(() => r()));
  beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] }));
  afterEach(() => {
    vi.useRealTimers();
    globalThis.setImmediate = realImmediate;
  });

  it("defers native ticks by a timer growing with the work's age; other callbacks pass", async () => {
    const ran: string[] = [];
    // Bound functions print as native code, like the callbacks Dawn's bindings hand over.
    const native = (tag: string) => Array.prototype.push.bind(ran, tag) as () => void;
    const release = patientPoll(performance.now());
    try {
      expect(globalThis.setImmediate).not.toBe(realImmediate);
      globalThis.setImmediate(native('young'));
      await turn();
      expect(ran, 'work younger than 0.3 ms: polled at once').toEqual(['young']);
      vi.advanceTimersByTime(10); // 10 ms old: a blocking nap of 10 / 20 = 0.5 ms, then at once
      const napStart = process.hrtime.bigint(); // not faked: the nap is real
      globalThis.setImmediate(native('nap'));
      const napMs = Number(process.hrtime.bigint() - napStart) / 1e6;
      expect(napMs, `nap took ${napMs} ms, want >= 0.4`).toBeGreaterThanOrEqual(0.4);
      await turn();
      expect(ran).toEqual(['young', 'nap']);
      vi.advanceTimersByTime(30); // 40 ms old: a 2 ms timer (40 / 20)
      globalThis.setImmediate(native('old'));
      globalThis.setImmediate(() => void ran.push('js'));
      await turn();
      expect(ran).toEqual(['young', 'nap', 'js']);
      vi.advanceTimersByTime(1);
      expect(ran).toEqual(['young', 'nap', 'js']);
      vi.advanceTimersByTime(1);
      expect(ran).toEqual(['young', 'nap', 'js', 'old']);
      vi.advanceTimersByTime(10_000); // never more than 2 ms
      globalThis.setImmediate(native('older'));
      vi.advanceTimersByTime(2);
      expect(ran.at(-1)).toBe('older');
    } finally {
      release();
    }
    expect(globalThis.setImmediate).toBe(realImmediate);
  });

  it('stays installed until the last of overlapping waits is released', () => {
    const a = patientPoll(performance.now());
    const b = patientPoll(performance.now());
    a();
    a(); // a second release of the same wait changes nothing
    expect(globalThis.setImmediate).not.toBe(realImmediate);
    b();
    expect(globalThis.setImmediate).toBe(realImmediate);
  });

  it('is installed by IdleWait.wait for the pending promise only, also when it rejects', async () => {
    let during: unknown = null;
    const idle = new IdleWait(true);
    await idle.wait('k', performance.now(), async () => void (during = globalThis.setImmediate));
    expect(during).not.toBe(realImmediate);
    expect(globalThis.setImmediate).toBe(realImmediate);
    await expect(idle.wait('k', performance.now(), () => Promise.reject(new Error('lost')))).rejects.toThrow('lost');
    expect(globalThis.setImmediate).toBe(realImmediate);
    await new IdleWait(false).wait('k', performance.now(), async () => void (during = globalThis.setImmediate));
    expect(during).toBe(realImmediate);
  });
});

describe('idle-wait module', () => {
  afterEach(() => void vi.unstubAllGlobals());

  it('loads where there is no SharedArrayBuffer (a page that is not cross-origin isolated)', async () => {
    vi.stubGlobal('SharedArrayBuffer', undefined);
    vi.resetModules();
    const mod = await import('./idle-wait.js');
    expect(typeof mod.patientPoll).toBe('function');
  });
});

describe('idleWaitWanted', () => {
  afterEach(() => void vi.unstubAllEnvs());

  it('is on for a software adapter in Node, off otherwise; CRNN_IDLE_WAIT overrides', () => {
    const lavapipe = { isSoftware: true, platform: 'node' } as const;
    const gpu = { isSoftware: false, platform: 'node' } as const;
    vi.stubEnv('CRNN_IDLE_WAIT', '');
    expect(idleWaitWanted(lavapipe)).toBe(true);
    expect(idleWaitWanted(gpu)).toBe(false);
    expect(idleWaitWanted({ isSoftware: true, platform: 'browser' })).toBe(false);
    vi.stubEnv('CRNN_IDLE_WAIT', '0');
    expect(idleWaitWanted(lavapipe)).toBe(false);
    vi.stubEnv('CRNN_IDLE_WAIT', '1');
    expect(idleWaitWanted(gpu)).toBe(true);
  });
});
