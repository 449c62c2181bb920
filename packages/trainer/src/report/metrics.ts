// Text recognition metrics: edit distance, character error rate, sequence accuracy and
// PaddleOCR's normalized edit distance score.

function codePoints(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) out.push(ch.codePointAt(0) ?? 0);
  return out;
}

/** Number of Unicode code points in `s` (what all lengths below count). */
export function charLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function levenshtein(a: readonly number[], b: readonly number[]): number {
  // Strip the common prefix and suffix; they never contribute.
  let start = 0;
  let endA = a.length;
  let endB = b.length;
  while (start < endA && start < endB && a[start] === b[start]) start++;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const n = endA - start;
  const m = endB - start;
  if (n === 0) return m;
  if (m === 0) return n;
  // Two-row dynamic programme (O(n·m) time, O(m) memory).
  let prev = new Int32Array(m + 1);
  let cur = new Int32Array(m + 1);
  for (let j = 0; j <= m; j++) prev[j] = j;
  for (let i = 1; i <= n; i++) {
    cur[0] = i;
    const ca = a[start + i - 1];
    for (let j = 1; j <= m; j++) {
      const sub = (prev[j - 1] ?? 0) + (ca === b[start + j - 1] ? 0 : 1);
      const del = (prev[j] ?? 0) + 1;
      const ins = (cur[j - 1] ?? 0) + 1;
      cur[j] = sub < del ? (sub < ins ? sub : ins) : del < ins ? del : ins;
    }
    const t = prev;
    prev = cur;
    cur = t;
  }
  return prev[m] ?? 0;
}

/**
 * Levenshtein distance between `a` and `b`: the least number of single-character insertions,
 * deletions and substitutions turning one into the other, counted over Unicode code points (an
 * astral character such as an emoji is one character, not two UTF-16 units). No normalization
 * (NFC, case, spaces) is applied.
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  return levenshtein(codePoints(a), codePoints(b));
}

export interface TextMetricsSummary {
  /** Number of (prediction, truth) pairs added. */
  samples: number;
  /** Character error rate: sum of editDistance(pred, truth) / sum of len(truth). */
  cer: number;
  /** Sequence accuracy: fraction of samples whose prediction equals the truth exactly. */
  accuracy: number;
  /** PaddleOCR's norm_edit_dis: 1 - mean of editDistance / max(len(pred), len(truth), 1). */
  ned: number;
}

/**
 * Accumulates recognition results and summarizes them. With N samples (p_i, t_i), lengths in
 * code points and d_i = editDistance(p_i, t_i):
 *
 * - cer      = Σ d_i / Σ len(t_i)  — corpus-level character error rate (can exceed 1 when the
 *              predictions insert a lot). When Σ len(t_i) = 0 the denominator is taken as 1, so
 *              all-empty truths with all-empty predictions give 0, and inserted characters count
 *              as errors instead of producing Infinity.
 * - accuracy = #{i : p_i === t_i} / N — exact-match (sequence) accuracy.
 * - ned      = 1 - (1/N) Σ d_i / max(len(p_i), len(t_i), 1) — PaddleOCR's "norm_edit_dis"
 *              (ppocr/metrics/rec_metric.py, which uses Levenshtein.normalized_distance: the
 *              distance divided by the longer length, 0 for two empty strings). It is a score:
 *              1 is perfect. PaddleOCR optionally strips spaces / filters characters before
 *              comparing; no such filtering is done here — do it before add() if wanted.
 *
 * With no samples every field is 0.
 */
export class TextMetrics {
  private n = 0;
  private exact = 0;
  private distSum = 0;
  private truthLen = 0;
  private normDistSum = 0;

  add(pred: string, truth: string): void {
    const p = codePoints(pred);
    const t = codePoints(truth);
    const d = pred === truth ? 0 : levenshtein(p, t);
    this.n++;
    if (pred === truth) this.exact++;
    this.distSum += d;
    this.truthLen += t.length;
    this.normDistSum += d / Math.max(p.length, t.length, 1);
  }

  get count(): number {
    return this.n;
  }

  /** Forgets everything added so far. */
  reset(): void {
    this.n = 0;
    this.exact = 0;
    this.distSum = 0;
    this.truthLen = 0;
    this.normDistSum = 0;
  }

  summary(): TextMetricsSummary {
    if (this.n === 0) return { samples: 0, cer: 0, accuracy: 0, ned: 0 };
    return {
      samples: this.n,
      cer: this.distSum / Math.max(this.truthLen, 1),
      accuracy: this.exact / this.n,
      ned: 1 - this.normDistSum / this.n,
    };
  }
}
