// A metrics CSV that is rewritten atomically on every append and survives resumed runs.

import { existsSync, readFileSync, renameSync } from 'node:fs';
import { writeFileAtomic } from './raster.js';

/**
 * Formats one value for the CSV: integers as they are, other finite numbers with 6 significant
 * digits (shortest form, e.g. 0.123457, 1.5e-7), NaN / ±Infinity as NaN / inf / -inf (which
 * pandas and numpy parse), strings quoted when they hold a comma, quote or line break (line
 * breaks become spaces so that one row is always one line).
 */
export function formatCsvValue(v: number | string | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (v === Infinity) return 'inf';
    if (v === -Infinity) return '-inf';
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
    return String(Number(v.toPrecision(6)));
  }
  const s = v.replace(/\r\n|\r|\n/g, ' ');
  return /[",]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Splits one CSV line (RFC 4180 quoting, no embedded line breaks) into fields. */
export function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let field = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) {
          field += line.slice(i);
          i = line.length;
          break;
        }
        field += line.slice(i, q);
        if (line[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(field);
      const comma = line.indexOf(',', i);
      if (comma < 0) return out;
      i = comma + 1;
    } else {
      const comma = line.indexOf(',', i);
      if (comma < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, comma));
      i = comma + 1;
    }
  }
}

/**
 * Appends rows of metrics to a CSV file with a fixed column order.
 *
 * - A new file gets the header line at construction.
 * - An existing file whose header equals `columns` is kept, and rows are appended after its
 *   existing rows (a resumed run); call truncateAfterEpoch() to drop the rows the resumed run
 *   will write again.
 * - An existing file with a different header is moved aside to `${path}.bak` and a fresh file is
 *   started.
 *
 * Every write rewrites the whole file atomically (temp file + rename); metrics files are small.
 * Missing keys in a row give empty fields; keys that are not columns are ignored.
 */
export class MetricsCsv {
  private readonly header: string;
  private lines: string[] = [];

  constructor(
    readonly path: string,
    readonly columns: string[],
  ) {
    if (columns.length === 0) throw new Error('MetricsCsv: no columns');
    this.header = columns.map((c) => formatCsvValue(c)).join(',');
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8');
      const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
      if (lines[0] === this.header) {
        this.lines = lines.slice(1);
        return;
      }
      renameSync(path, `${path}.bak`);
    }
    this.flush();
  }

  /** Number of data rows in the file. */
  get rowCount(): number {
    return this.lines.length;
  }

  append(row: Record<string, number | string>): void {
    this.lines.push(this.columns.map((c) => formatCsvValue(row[c])).join(','));
    this.flush();
  }

  /**
   * Removes the rows whose 'epoch' value is greater than `epoch` (rows whose epoch field is not
   * a number are kept). For a run resumed from the checkpoint of `epoch`.
   */
  truncateAfterEpoch(epoch: number): void {
    const col = this.columns.indexOf('epoch');
    if (col < 0) throw new Error(`MetricsCsv: ${this.path} has no 'epoch' column`);
    const before = this.lines.length;
    this.lines = this.lines.filter((line) => {
      const field = parseCsvLine(line)[col];
      const e = field === undefined || field.trim() === '' ? NaN : Number(field);
      return !(e > epoch);
    });
    if (this.lines.length !== before) this.flush();
  }

  /** The data rows as records of strings, in file order. */
  rows(): Array<Record<string, string>> {
    return this.lines.map((line) => {
      const fields = parseCsvLine(line);
      const rec: Record<string, string> = {};
      this.columns.forEach((c, i) => (rec[c] = fields[i] ?? ''));
      return rec;
    });
  }

  private flush(): void {
    writeFileAtomic(this.path, [this.header, ...this.lines].join('\n') + '\n');
  }
}
