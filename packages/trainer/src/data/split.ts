/** Seeded train/validation split. */
import { Rng } from '@crnn/core';
import { DataError } from './errors.js';
import type { Sample } from './sources.js';

/**
 * Splits samples into train and validation sets, deterministically from `seed`: the first
 * round(n * valRatio) entries of new Rng(seed).permutation(n) go to validation, the rest to
 * training; both keep the input order. Validation gets at least 1 sample when valRatio > 0
 * and n >= 2, and training keeps at least 1. The two sets are disjoint and cover the input.
 * Throws DataError when valRatio is outside [0, 1).
 */
export function splitSamples(samples: Sample[], valRatio: number, seed: number): { train: Sample[]; val: Sample[] } {
  if (!(valRatio >= 0 && valRatio < 1)) throw new DataError(`splitSamples: expected valRatio in [0, 1), found ${valRatio}`);
  const n = samples.length;
  let nVal = Math.round(n * valRatio);
  if (valRatio > 0 && n >= 2) nVal = Math.min(Math.max(nVal, 1), n - 1);
  if (n < 2) nVal = 0;
  const perm = new Rng(seed).permutation(n);
  const isVal = new Uint8Array(n);
  for (let i = 0; i < nVal; i++) isVal[perm[i]!] = 1;
  const train: Sample[] = [];
  const val: Sample[] = [];
  samples.forEach((s, i) => (isVal[i] ? val : train).push(s));
  return { train, val };
}
