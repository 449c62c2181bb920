// Progress output for training loops: a redrawn bar on a terminal, sparse plain lines in logs.

/** The part of a write stream Progress uses (process.stderr, or a fake in tests). */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  total: number;
  label: string;
  /** Where to write (default process.stderr). */
  stream?: ProgressStream | NodeJS.WriteStream;
  /** Redraw one line with '\r' (default: stream.isTTY). */
  tty?: boolean;
  /** Without a TTY, print a line at most every this many steps (default: ceil(total / 10)). */
  every?: number;
  /** On a TTY, redraw at most this often in milliseconds (default 100; the first and final draws always happen). */
  intervalMs?: number;
  /** Clock in milliseconds (default performance.now; for tests). */
  now?: () => number;
}

export type Stats = Record<string, number | string>;

/**
 * Formats a duration: '42s' under a minute, '1m05s' under an hour, '2h03m' beyond (rounded to
 * whole seconds; non-finite or negative input gives '--').
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const t = Math.round(seconds);
  if (t < 60) return `${t}s`;
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (t < 3600) return `${Math.floor(t / 60)}m${pad(t % 60)}s`;
  return `${Math.floor(t / 3600)}h${pad(Math.floor((t % 3600) / 60))}m`;
}

/** A stat value for display: 4 significant digits (0.1235, 45.63, 1235), integers as they are. */
export function formatStat(v: number | string): string {
  if (typeof v === 'string') return v;
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  return String(Number(v.toPrecision(4)));
}

function formatStats(stats: Stats): string {
  return Object.entries(stats)
    .map(([k, v]) => `${k} ${formatStat(v)}`)
    .join('  ');
}

const BAR = 24;

/**
 * Progress of one loop of `total` steps (an epoch, an evaluation).
 *
 * On a TTY, update() redraws a single line — `label [#####-----] done/total  stats  elapsed<eta`
 * — with '\r' and the ANSI "erase to end of line", cut to the terminal width; finish() draws it a
 * last time and ends the line. Without a TTY (CI, files) it prints plain lines without '\r' or
 * ANSI codes: one when `every` steps have passed since the last printed one (so about 10 per
 * loop by default), and always one from finish().
 */
export class Progress {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly every: number;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly total: number;
  private readonly label: string;
  private readonly start: number;
  private lastPrinted = 0;
  private lastDraw = -Infinity;
  private finished = false;

  constructor(o: ProgressOptions) {
    this.total = Math.max(0, o.total);
    this.label = o.label;
    this.stream = o.stream ?? process.stderr;
    this.tty = o.tty ?? this.stream.isTTY === true;
    this.every = Math.max(1, Math.floor(o.every ?? Math.ceil(this.total / 10)));
    this.intervalMs = o.intervalMs ?? 100;
    this.now = o.now ?? (() => performance.now());
    this.start = this.now();
  }

  /** Seconds since construction. */
  get elapsed(): number {
    return (this.now() - this.start) / 1000;
  }

  update(done: number, stats: Stats = {}): void {
    if (this.finished) return;
    if (this.tty) {
      const t = this.now();
      if (t - this.lastDraw < this.intervalMs) return;
      this.lastDraw = t;
      this.draw(done, stats);
    } else if (done - this.lastPrinted >= this.every) {
      this.lastPrinted = done;
      this.stream.write(this.plainLine(done, stats, false) + '\n');
    }
  }

  finish(stats: Stats = {}): void {
    if (this.finished) return;
    this.finished = true;
    if (this.tty) {
      this.draw(this.total, stats, true);
      this.stream.write('\n');
    } else {
      this.stream.write(this.plainLine(this.total, stats, true) + '\n');
    }
  }

  /** Estimated seconds left, from the mean time per step so far (NaN before the first step). */
  private eta(done: number): number {
    return done > 0 && this.total > 0 ? (this.elapsed / done) * Math.max(0, this.total - done) : NaN;
  }

  private counter(done: number): string {
    const w = String(this.total).length;
    return `${String(done).padStart(w)}/${this.total}`;
  }

  private plainLine(done: number, stats: Stats, final: boolean): string {
    const pct = this.total > 0 ? ` (${Math.floor((100 * Math.min(done, this.total)) / this.total)}%)` : '';
    const s = formatStats(stats);
    const el = formatDuration(this.elapsed);
    const t = final ? `done in ${el}` : `elapsed ${el} eta ${formatDuration(this.eta(done))}`;
    return `${this.label} ${this.counter(done)}${pct}${s ? '  ' + s : ''}  ${t}`;
  }

  private draw(done: number, stats: Stats, final = false): void {
    const frac = this.total > 0 ? Math.max(0, Math.min(1, done / this.total)) : 0;
    const fill = Math.round(frac * BAR);
    const bar = `[${'#'.repeat(fill)}${'-'.repeat(BAR - fill)}]`;
    const s = formatStats(stats);
    const el = formatDuration(this.elapsed);
    const time = final ? el : `${el}<${formatDuration(this.eta(done))}`;
    let line = `${this.label} ${bar} ${this.counter(done)}${s ? '  ' + s : ''}  ${time}`;
    const cols = this.stream.columns;
    if (cols && cols > 1 && line.length > cols - 1) line = line.slice(0, cols - 1);
    this.stream.write(`\r${line}\x1b[K`);
  }
}
