import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatCsvValue, MetricsCsv, parseCsvLine } from './index.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'report-csv-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const read = (p: string): string[] => readFileSync(p, 'utf8').trimEnd().split('\n');

describe('formatCsvValue / parseCsvLine', () => {
  it('formats numbers with 6 significant digits', () => {
    expect(formatCsvValue(3)).toBe('3');
    expect(formatCsvValue(0.123456789)).toBe('0.123457');
    expect(formatCsvValue(1234.56789)).toBe('1234.57');
    expect(formatCsvValue(1.5e-7)).toBe('1.5e-7');
    expect(formatCsvValue(NaN)).toBe('NaN');
    expect(formatCsvValue(Infinity)).toBe('inf');
    expect(formatCsvValue(-Infinity)).toBe('-inf');
    expect(formatCsvValue(undefined)).toBe('');
  });

  it('quotes strings that need it and parses them back', () => {
    expect(formatCsvValue('plain')).toBe('plain');
    expect(formatCsvValue('a,b')).toBe('"a,b"');
    expect(formatCsvValue('say "hi"')).toBe('"say ""hi"""');
    expect(formatCsvValue('two\nlines')).toBe('two lines');
    const line = ['1', formatCsvValue('a,b'), formatCsvValue('say "hi"'), '', 'x'].join(',');
    expect(parseCsvLine(line)).toEqual(['1', 'a,b', 'say "hi"', '', 'x']);
  });
});

describe('MetricsCsv', () => {
  it('writes the header once and a line per row, columns in the given order', () => {
    const p = join(dir, 'sub', 'metrics.csv');
    const csv = new MetricsCsv(p, ['epoch', 'train_loss', 'val_cer', 'note']);
    expect(read(p)).toEqual(['epoch,train_loss,val_cer,note']);
    csv.append({ val_cer: 0.5, epoch: 1, train_loss: 2.3456789, note: 'warm, up' });
    csv.append({ epoch: 2, train_loss: 1.25 }); // missing columns stay empty
    csv.append({ epoch: 3, train_loss: NaN, val_cer: 0.1, extra: 99 }); // unknown keys ignored
    expect(read(p)).toEqual([
      'epoch,train_loss,val_cer,note',
      '1,2.34568,0.5,"warm, up"',
      '2,1.25,,',
      '3,NaN,0.1,',
    ]);
    expect(csv.rowCount).toBe(3);
    expect(csv.rows()[0]).toEqual({ epoch: '1', train_loss: '2.34568', val_cer: '0.5', note: 'warm, up' });
    // Atomic writes leave no temp files behind.
    expect(readdirSync(join(dir, 'sub'))).toEqual(['metrics.csv']);
  });

  it('keeps an existing file with the same header and appends (resume)', () => {
    const p = join(dir, 'metrics.csv');
    const cols = ['epoch', 'loss'];
    const a = new MetricsCsv(p, cols);
    a.append({ epoch: 1, loss: 3 });
    a.append({ epoch: 2, loss: 2 });
    const b = new MetricsCsv(p, cols);
    expect(b.rowCount).toBe(2);
    b.append({ epoch: 3, loss: 1 });
    expect(read(p)).toEqual(['epoch,loss', '1,3', '2,2', '3,1']);
  });

  it('truncateAfterEpoch drops the rows of later epochs for a resumed run', () => {
    const p = join(dir, 'metrics.csv');
    const cols = ['step', 'epoch', 'loss'];
    const a = new MetricsCsv(p, cols);
    for (let e = 1; e <= 4; e++) {
      a.append({ step: e * 10 - 5, epoch: e, loss: 1 / e });
      a.append({ step: e * 10, epoch: e, loss: 0.5 / e });
    }
    // Resume from the checkpoint of epoch 2: epochs 3 and 4 will be run again.
    const b = new MetricsCsv(p, cols);
    b.truncateAfterEpoch(2);
    expect(read(p)).toEqual(['step,epoch,loss', '5,1,1', '10,1,0.5', '15,2,0.5', '20,2,0.25']);
    b.append({ step: 25, epoch: 3, loss: 0.3 });
    expect(read(p).slice(-1)).toEqual(['25,3,0.3']);
    b.truncateAfterEpoch(0);
    expect(read(p)).toEqual(['step,epoch,loss']);
    expect(() => new MetricsCsv(join(dir, 'other.csv'), ['step']).truncateAfterEpoch(1)).toThrow(/epoch/);
  });

  it('starts afresh, keeping a .bak, when the header differs', () => {
    const p = join(dir, 'metrics.csv');
    writeFileSync(p, 'epoch,old\n1,2\n');
    const c = new MetricsCsv(p, ['epoch', 'new']);
    c.append({ epoch: 1, new: 5 });
    expect(read(p)).toEqual(['epoch,new', '1,5']);
    expect(existsSync(`${p}.bak`)).toBe(true);
    expect(read(`${p}.bak`)).toEqual(['epoch,old', '1,2']);
  });
});
