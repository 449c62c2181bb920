/**
 * The characters a recognizer can output and their CTC class ids: class 0 is the CTC blank,
 * character i of `chars` is class i + 1. Characters are Unicode code points (so a character
 * outside the BMP counts once).
 */
import { DataError, LabelError, type BadLabel } from './errors.js';
import { foldCase, type Preprocess } from './preprocess.js';
import type { Sample } from './sources.js';

function byCodePoint(a: string, b: string): number {
  return a.codePointAt(0)! - b.codePointAt(0)!;
}

export class Charset {
  /** The characters, in class order (class i + 1 is chars' i-th code point). */
  readonly chars: string;
  private readonly list: string[];
  private readonly index = new Map<string, number>();

  /** Throws DataError on a repeated character. */
  constructor(chars: string) {
    this.chars = chars;
    this.list = Array.from(chars);
    this.list.forEach((c, i) => {
      if (this.index.has(c)) throw new DataError(`Charset: expected distinct characters, found '${c}' twice in '${chars}'`);
      this.index.set(c, i + 1);
    });
  }

  /** The sorted (by code point) unique characters of the labels. */
  static fromLabels(labels: string[]): Charset {
    const set = new Set<string>();
    for (const l of labels) for (const c of l) set.add(c);
    return new Charset([...set].sort(byCodePoint).join(''));
  }

  /** Number of characters + 1 (the blank, class 0). */
  get numClasses(): number {
    return this.list.length + 1;
  }

  /** Whether the charset holds this character. */
  has(c: string): boolean {
    return this.index.has(c);
  }

  /** The characters of `label` the charset lacks, distinct, in order of appearance. */
  unknownChars(label: string): string[] {
    const out: string[] = [];
    for (const c of label) if (!this.index.has(c) && !out.includes(c)) out.push(c);
    return out;
  }

  /** Class ids (1..numClasses-1) of the label's characters; throws LabelError on unknown ones. */
  encode(label: string): number[] {
    const out: number[] = [];
    for (const c of label) {
      const id = this.index.get(c);
      if (id === undefined) throw new LabelError([{ path: '(label passed to encode)', label, chars: this.unknownChars(label) }], this.chars);
      out.push(id);
    }
    return out;
  }

  /**
   * The text of class ids: the inverse of encode. Blanks (0) are skipped; repeats are NOT
   * collapsed (that is CTC decoding's job). Throws DataError on an id outside [0, numClasses).
   */
  decode(ids: number[]): string {
    let s = '';
    for (const id of ids) {
      if (id === 0) continue;
      const c = Number.isInteger(id) ? this.list[id - 1] : undefined;
      if (c === undefined) throw new DataError(`Charset.decode: expected class ids in [0, ${this.numClasses}), found ${id}`);
      s += c;
    }
    return s;
  }

  toJSON(): string {
    return this.chars;
  }
}

/**
 * Splits samples into those whose label (after case folding) the charset can encode and those
 * it cannot, with the unknown characters of each. `ok` holds the samples with folded labels.
 * Empty labels are bad too (CTC needs at least one target), reported with chars [].
 * To turn `bad` into an error: `if (bad.length) throw new LabelError(bad, charset.chars)`.
 */
export function checkLabels(
  samples: Sample[],
  charset: Charset,
  caseFold: Preprocess['caseFold'],
): { ok: Sample[]; bad: BadLabel[] } {
  const ok: Sample[] = [];
  const bad: BadLabel[] = [];
  for (const s of samples) {
    const label = foldCase(s.label, caseFold);
    const chars = charset.unknownChars(label);
    if (chars.length > 0 || label.length === 0) bad.push({ path: s.path, label, chars });
    else ok.push({ path: s.path, label });
  }
  return { ok, bad };
}
