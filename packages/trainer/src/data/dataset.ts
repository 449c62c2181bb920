/**
 * An in-memory data set of preprocessed images and their encoded labels, and the batches a
 * training step consumes.
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Rng } from '@crnn/core';
import { augmentImage, type Augment } from './augment.js';
import { Charset, checkLabels } from './charset.js';
import { decodeImage } from './decode.js';
import { DataError, LabelError } from './errors.js';
import { backgroundValue, checkPreprocess, foldCase, preprocess, type Preprocess } from './preprocess.js';
import type { Sample } from './sources.js';

/** One batch, images in NCHW layout with C = 1. */
export interface Batch {
  /** [B, 1, H, W] row-major. */
  images: Float32Array;
  /** [B, 1, H, W]. */
  shape: [number, number, number, number];
  /** Encoded labels (class ids, 1-based; 0 is the blank and never appears). */
  labels: number[][];
  /** The label texts that were encoded (after case folding). */
  texts: string[];
  paths: string[];
  /** Positions of the items in the data set. */
  indices: number[];
}

/** An item of a data set. */
export interface DatasetItem {
  image: Float32Array;
  /** The target text (after case folding): what labels encode. */
  label: string;
  path: string;
}

/** Options of ImageDataset.batches. */
export interface BatchOptions {
  /** Shuffle the order with this generator (a new permutation per call), or keep it. */
  shuffle: Rng | null;
  /** Augment every image with this generator and these magnitudes, or not. */
  augment?: { rng: Rng; a: Augment } | null;
  /** Drop a last batch smaller than batchSize (default false). */
  dropLast?: boolean;
}

function describeSource(samples: Sample[]): string {
  const dirs = [...new Set(samples.map((s) => dirname(s.path)))];
  if (dirs.length === 1) return `'${dirs[0]}'`;
  return `${dirs.length} folders (${dirs.slice(0, 3).map((d) => `'${d}'`).join(', ')}${dirs.length > 3 ? ', ...' : ''})`;
}

export class ImageDataset {
  /** Images that could not be read or decoded, with the reason (load only). */
  readonly skipped: Array<{ path: string; reason: string }>;
  readonly preprocess: Preprocess;
  readonly charset: Charset;
  private readonly images: Float32Array[];
  private readonly texts: string[];
  private readonly rawLabels: string[];
  private readonly paths: string[];
  private readonly encoded: number[][];

  private constructor(
    items: Array<DatasetItem & { rawLabel: string }>,
    p: Preprocess,
    charset: Charset,
    skipped: Array<{ path: string; reason: string }>,
  ) {
    this.preprocess = p;
    this.charset = charset;
    this.skipped = skipped;
    this.images = items.map((it) => it.image);
    this.texts = items.map((it) => it.label);
    this.rawLabels = items.map((it) => it.rawLabel);
    this.paths = items.map((it) => it.path);
    this.encoded = this.texts.map((t) => charset.encode(t));
  }

  /**
   * Reads, decodes and preprocesses every sample once and keeps the results in memory.
   * Labels are case-folded per p.caseFold and checked first: any label the charset cannot
   * encode (or an empty one) throws LabelError before an image is read. Unreadable or corrupt
   * images are skipped: each is reported through onWarning (the message names the file and
   * the reason) and listed in `skipped`. Throws DataError when no sample is given or no
   * usable image remains ("no usable image in <folder>").
   */
  static load(samples: Sample[], p: Preprocess, charset: Charset, o: { onWarning?: (msg: string) => void } = {}): ImageDataset {
    checkPreprocess(p);
    if (samples.length === 0) throw new DataError('ImageDataset.load: expected at least one sample, found none');
    const { bad } = checkLabels(samples, charset, p.caseFold);
    if (bad.length > 0) throw new LabelError(bad, charset.chars);
    const items: Array<DatasetItem & { rawLabel: string }> = [];
    const skipped: Array<{ path: string; reason: string }> = [];
    for (const s of samples) {
      let image: Float32Array;
      try {
        const bytes = readFileSync(s.path);
        image = preprocess(decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), s.path), p);
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e);
        skipped.push({ path: s.path, reason });
        o.onWarning?.(`skipping image '${s.path}': ${reason}`);
        continue;
      }
      items.push({ image, label: foldCase(s.label, p.caseFold), rawLabel: s.label, path: s.path });
    }
    if (items.length === 0) {
      throw new DataError(
        `ImageDataset.load: no usable image in ${describeSource(samples)}: expected decodable PNG/JPEG files, ` +
          `found ${skipped.length} unreadable (first: ${skipped[0]?.reason ?? 'none'})`,
      );
    }
    return new ImageDataset(items, p, charset, skipped);
  }

  /**
   * A data set of images already preprocessed (e.g. generateDigitStrings): each image must
   * hold p.height * p.width values (DataError otherwise); labels are case-folded and must be
   * encodable (LabelError otherwise). The arrays are kept, not copied.
   */
  static fromImages(items: DatasetItem[], p: Preprocess, charset: Charset): ImageDataset {
    checkPreprocess(p);
    if (items.length === 0) throw new DataError('ImageDataset.fromImages: expected at least one image, found none');
    const n = p.height * p.width;
    for (const it of items) {
      if (it.image.length !== n) {
        throw new DataError(`ImageDataset.fromImages: expected ${p.height}x${p.width} = ${n} values for '${it.path}', found ${it.image.length}`);
      }
    }
    const { bad } = checkLabels(items, charset, p.caseFold);
    if (bad.length > 0) throw new LabelError(bad, charset.chars);
    return new ImageDataset(
      items.map((it) => ({ image: it.image, label: foldCase(it.label, p.caseFold), rawLabel: it.label, path: it.path })),
      p,
      charset,
      [],
    );
  }

  get size(): number {
    return this.images.length;
  }

  /** The image (shared, do not modify), the target text and the path of item i. */
  item(i: number): DatasetItem {
    const image = this.images[i];
    if (image === undefined) throw new DataError(`ImageDataset.item: expected an index in [0, ${this.size}), found ${i}`);
    return { image, label: this.texts[i]!, path: this.paths[i]! };
  }

  /** The label of item i as found in the file name or label file, before case folding. */
  rawLabel(i: number): string {
    const l = this.rawLabels[i];
    if (l === undefined) throw new DataError(`ImageDataset.rawLabel: expected an index in [0, ${this.size}), found ${i}`);
    return l;
  }

  /** The encoded label of item i. */
  encodedLabel(i: number): number[] {
    const l = this.encoded[i];
    if (l === undefined) throw new DataError(`ImageDataset.encodedLabel: expected an index in [0, ${this.size}), found ${i}`);
    return l;
  }

  /** The longest label, in characters. */
  get maxLabelLength(): number {
    let m = 0;
    for (const l of this.encoded) m = Math.max(m, l.length);
    return m;
  }

  /** Number of batches one pass of batches(batchSize, { dropLast }) yields. */
  numBatches(batchSize: number, dropLast = false): number {
    return dropLast ? Math.floor(this.size / batchSize) : Math.ceil(this.size / batchSize);
  }

  /**
   * One pass over the data set in batches of batchSize (the last one smaller unless
   * dropLast). The order is shuffle.permutation(size) when a generator is given (advancing it)
   * else the stored order. With augment, each image is passed through augmentImage with that
   * generator, in batch order, using the preprocess's background value. Images are copied into
   * a fresh [B, 1, H, W] array per batch.
   */
  *batches(batchSize: number, o: BatchOptions): Generator<Batch> {
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new DataError(`ImageDataset.batches: expected a positive integer batch size, found ${batchSize}`);
    }
    const order = o.shuffle ? o.shuffle.permutation(this.size) : Array.from({ length: this.size }, (_, i) => i);
    const { height: h, width: w } = this.preprocess;
    const hw = h * w;
    const bg = backgroundValue(this.preprocess);
    const aug = o.augment ?? null;
    for (let start = 0; start < order.length; start += batchSize) {
      const indices = order.slice(start, start + batchSize);
      if (indices.length < batchSize && o.dropLast) break;
      const b = indices.length;
      const images = new Float32Array(b * hw);
      indices.forEach((idx, k) => {
        const img = this.images[idx]!;
        images.set(aug ? augmentImage(img, h, w, aug.rng, aug.a, bg) : img, k * hw);
      });
      yield {
        images,
        shape: [b, 1, h, w],
        labels: indices.map((i) => this.encoded[i]!.slice()),
        texts: indices.map((i) => this.texts[i]!),
        paths: indices.map((i) => this.paths[i]!),
        indices,
      };
    }
  }
}
