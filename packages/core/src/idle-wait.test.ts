import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdleWait, idleWaitWanted } from './idle-wait.js';

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
