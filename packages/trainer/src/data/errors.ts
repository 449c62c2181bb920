/**
 * Typed errors of the data pipeline. Each message names the file (or folder) involved, what
 * was expected and what was found, so a user can fix the data from the message alone.
 */
import { CrnnError } from '@crnn/core';

/** A data set cannot be read: a missing folder or file, a malformed label file, no usable image. */
export class DataError extends CrnnError {}

/** One image file could not be decoded (corrupt, truncated, not a PNG or JPEG). */
export class ImageDecodeError extends CrnnError {
  constructor(
    /** The file (or the name given to decodeImage). */
    readonly file: string,
    /** Why it failed, in words. */
    readonly reason: string,
  ) {
    super(`cannot decode image '${file}': ${reason}`);
  }
}

/** A label that uses characters outside the charset, with the unknown characters it holds. */
export interface BadLabel {
  path: string;
  label: string;
  /** The distinct characters of the label that the charset lacks, in order of appearance. */
  chars: string[];
}

/** How many bad labels a LabelError message lists before it only gives a count. */
export const LABEL_ERROR_LIST_MAX = 20;

function showChar(c: string): string {
  // Make whitespace and control characters visible.
  return /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(c) ? `'${c}'` : `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Labels with characters the charset does not hold. The message lists the files (at most
 * LABEL_ERROR_LIST_MAX, then a count of the rest), each label and its unknown characters,
 * and the union of all unknown characters.
 */
export class LabelError extends CrnnError {
  /** The charset's characters. */
  readonly charset: string;

  constructor(
    readonly bad: BadLabel[],
    /** The charset (a Charset or its characters), for the message. */
    charset: string | { readonly chars: string },
  ) {
    const chars = typeof charset === 'string' ? charset : charset.chars;
    const all = [...new Set(bad.flatMap((b) => b.chars))];
    const lines = bad
      .slice(0, LABEL_ERROR_LIST_MAX)
      .map((b) => `  ${b.path}: label '${b.label}' ${b.chars.length ? `has ${b.chars.map(showChar).join(', ')}` : 'is empty'}`);
    if (bad.length > LABEL_ERROR_LIST_MAX) lines.push(`  ... and ${bad.length - LABEL_ERROR_LIST_MAX} more`);
    super(
      `${bad.length} label(s) use characters outside the charset '${chars}' ` +
        `(expected non-empty labels of those characters; found ${all.length ? all.map(showChar).join(', ') : 'empty labels'}):\n${lines.join('\n')}`,
    );
    this.charset = chars;
  }
}
