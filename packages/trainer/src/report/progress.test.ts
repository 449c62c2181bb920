import { describe, expect, it } from 'vitest';
import { formatDuration, formatStat, Progress } from './index.js';

class FakeStream {
  writes: string[] = [];
  constructor(
    readonly isTTY: boolean,
    readonly columns?: number,
  ) {}
  write(s: string): boolean {
    this.writes.push(s);
    return true;
  }
  get text(): string {
    return this.writes.join('');
  }
}

/** A controllable clock in milliseconds. */
function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('formatDuration', () => {
  it('formats seconds, minutes and hours', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(59.6)).toBe('1m00s');
    expect(formatDuration(65)).toBe('1m05s');
    expect(formatDuration(3599)).toBe('59m59s');
    expect(formatDuration(3600)).toBe('1h00m');
    expect(formatDuration(2 * 3600 + 3 * 60 + 20)).toBe('2h03m');
    expect(formatDuration(30 * 3600)).toBe('30h00m');
    expect(formatDuration(NaN)).toBe('--');
    expect(formatDuration(Infinity)).toBe('--');
    expect(formatDuration(-1)).toBe('--');
  });

  it('formats stats compactly', () => {
    expect(formatStat(0.123456)).toBe('0.1235');
    expect(formatStat(45.6)).toBe('45.6');
    expect(formatStat(12)).toBe('12');
    expect(formatStat(NaN)).toBe('nan');
    expect(formatStat('x')).toBe('x');
  });
});

describe('Progress without a TTY', () => {
  it('prints a bounded number of plain lines and never \\r or ANSI codes', () => {
    const s = new FakeStream(false);
    const c = clock();
    const p = new Progress({ total: 1000, label: 'epoch 1/5', stream: s, now: c.now });
    for (let i = 1; i <= 1000; i++) {
      c.advance(10);
      p.update(i, { loss: 1 / i, 'img/s': 3200.4 });
    }
    p.finish({ loss: 0.001, cer: 0.25 });
    const text = s.text;
    expect(text).not.toContain('\r');
    expect(text).not.toContain('\x1b');
    const lines = text.split('\n').filter((l) => l.length > 0);
    expect(lines.length).toBeLessThanOrEqual(11); // ~10 per loop plus the final line
    expect(lines.length).toBeGreaterThanOrEqual(10);
    expect(text.endsWith('\n')).toBe(true);
    expect(lines[0]).toBe('epoch 1/5  100/1000 (10%)  loss 0.01  img/s 3200  elapsed 1s eta 9s');
    expect(lines.at(-1)).toBe('epoch 1/5 1000/1000 (100%)  loss 0.001  cer 0.25  done in 10s');
  });

  it('respects every, and update after finish is ignored', () => {
    const s = new FakeStream(false);
    const p = new Progress({ total: 50, label: 'eval', stream: s, every: 20 });
    for (let i = 1; i <= 50; i++) p.update(i, {});
    p.finish({});
    p.update(50, {});
    p.finish({});
    const lines = s.text.trimEnd().split('\n');
    expect(lines.length).toBe(3); // at 20, 40, and the final line
    expect(lines.map((l) => l.split(' ')[1])).toEqual(['20/50', '40/50', '50/50']);
  });

  it('uses the stream isTTY flag unless tty is given', () => {
    const s = new FakeStream(true);
    const p = new Progress({ total: 10, label: 'x', stream: s, tty: false });
    p.update(10, {});
    p.finish({});
    expect(s.text).not.toContain('\r');
  });
});

describe('Progress on a TTY', () => {
  it('redraws one line with \\r, a bar, counts, stats, elapsed and ETA', () => {
    const s = new FakeStream(true);
    const c = clock();
    const p = new Progress({ total: 100, label: 'train', stream: s, now: c.now, intervalMs: 0 });
    c.advance(5000);
    p.update(25, { loss: 0.123, 'img/s': 45.6 });
    const first = s.writes[0]!;
    expect(first.startsWith('\r')).toBe(true);
    expect(first).toContain('[######------------------]');
    expect(first).toContain(' 25/100');
    expect(first).toContain('loss 0.123  img/s 45.6');
    expect(first).toContain('5s<15s');
    expect(first).not.toContain('\n');
    for (let i = 26; i <= 100; i++) p.update(i, { loss: 0.1 });
    p.finish({ loss: 0.05 });
    expect(s.writes.length).toBe(1 + 75 + 2);
    expect(s.text.endsWith('\n')).toBe(true);
    expect(s.writes.at(-2)).toContain('[########################] 100/100  loss 0.05');
    expect(s.text.split('\n').length).toBe(2); // a single line in the end
  });

  it('throttles redraws and fits the terminal width', () => {
    const s = new FakeStream(true, 40);
    const c = clock();
    const p = new Progress({ total: 1000, label: 'train', stream: s, now: c.now });
    for (let i = 1; i <= 1000; i++) {
      c.advance(1); // 1 ms per step, redraws every 100 ms
      p.update(i, { loss: 0.5, accuracy: 0.75, 'img/s': 1000 });
    }
    p.finish({});
    expect(s.writes.length).toBeLessThanOrEqual(12 + 2);
    for (const w of s.writes) {
      const visible = w.replace('\r', '').replace('\x1b[K', '').replace('\n', '');
      expect(visible.length).toBeLessThanOrEqual(39);
    }
  });
});
