// CTC prefix beam search on the CPU, in log space. Each prefix keeps two probabilities: of
// the paths that produce it and end in a blank (pb), and of those that end in its last label
// (pnb). Extending by the prefix's last label only continues from pb (a blank must separate
// two equal labels); staying on the last label without a blank continues pnb.
import { OpInputError } from '@crnn/core';

export interface CtcBeam {
  sequence: number[];
  /** log p(sequence | x), summed over the alignments the search kept. */
  logProb: number;
}

export interface CtcBeamSearchOptions {
  beamWidth?: number;
  blank?: number;
  /** Frames per sample (default T). */
  inputLengths?: ArrayLike<number>;
  /** What the input holds over C: probabilities (default), log-probabilities, or logits. */
  inputKind?: 'probs' | 'logProbs' | 'logits';
}

function lse(a: number, b: number): number {
  const m = Math.max(a, b);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

interface Prefix {
  seq: number[];
  pb: number;
  pnb: number;
}

/**
 * Every beam left after T frames, best first. `logp(t, c)` is the log-probability of class c
 * at frame t.
 */
export function ctcPrefixBeamSearch(logp: (t: number, c: number) => number, T: number, C: number, beamWidth: number, blank: number): CtcBeam[] {
  let beams: Prefix[] = [{ seq: [], pb: 0, pnb: -Infinity }];
  for (let t = 0; t < T; t++) {
    const next = new Map<string, Prefix>();
    const at = (seq: number[]): Prefix => {
      const k = seq.join(',');
      let p = next.get(k);
      if (!p) next.set(k, (p = { seq, pb: -Infinity, pnb: -Infinity }));
      return p;
    };
    for (const b of beams) {
      const total = lse(b.pb, b.pnb);
      const last = b.seq.length > 0 ? b.seq[b.seq.length - 1]! : -1;
      for (let c = 0; c < C; c++) {
        const p = logp(t, c);
        if (c === blank) {
          const same = at(b.seq);
          same.pb = lse(same.pb, total + p);
        } else if (c === last) {
          // "a" + a: collapses into "a" unless a blank came between.
          const same = at(b.seq);
          same.pnb = lse(same.pnb, b.pnb + p);
          const ext = at([...b.seq, c]);
          ext.pnb = lse(ext.pnb, b.pb + p);
        } else {
          const ext = at([...b.seq, c]);
          ext.pnb = lse(ext.pnb, total + p);
        }
      }
    }
    // A NaN score sorts as -inf here so that the search never stalls on it.
    const score = (p: Prefix) => {
      const s = lse(p.pb, p.pnb);
      return Number.isNaN(s) ? -Infinity : s;
    };
    beams = [...next.values()].sort((a, b) => score(b) - score(a)).slice(0, beamWidth);
  }
  return beams.map((b) => ({ sequence: b.seq, logProb: lse(b.pb, b.pnb) }));
}

/**
 * Prefix beam search over host scores [T, N, C] (probabilities unless `inputKind` says
 * otherwise): the best beam of every sample.
 */
export function ctcBeamSearch(scores: ArrayLike<number>, shape: readonly [number, number, number], o: CtcBeamSearchOptions = {}): CtcBeam[] {
  const op = 'ctc_beam_search';
  const [T, N, C] = shape;
  if (shape.length !== 3 || ![T, N, C].every((d) => Number.isInteger(d) && d > 0)) {
    throw new OpInputError(op, 'a shape [T, N, C] of positive integers', `[${shape.join(', ')}]`);
  }
  if (scores.length !== T * N * C) throw new OpInputError(op, `${T * N * C} scores for [${T}, ${N}, ${C}]`, `${scores.length}`);
  const beamWidth = o.beamWidth ?? 10;
  const blank = o.blank ?? 0;
  if (!Number.isInteger(beamWidth) || beamWidth < 1) throw new OpInputError(op, 'beamWidth a positive integer', String(beamWidth));
  if (!Number.isInteger(blank) || blank < 0 || blank >= C) throw new OpInputError(op, `blank in [0, ${C})`, String(blank));
  const lens = o.inputLengths;
  if (lens) {
    if (lens.length !== N) throw new OpInputError(op, `${N} input lengths`, `${lens.length}`);
    for (let n = 0; n < N; n++) {
      const v = lens[n]!;
      if (!Number.isInteger(v) || v < 0 || v > T) throw new OpInputError(op, `input_lengths[${n}] in [0, ${T}]`, String(v));
    }
  }
  const kind = o.inputKind ?? 'probs';
  const out: CtcBeam[] = [];
  for (let n = 0; n < N; n++) {
    const Tn = lens ? lens[n]! : T;
    // Log-probabilities of this sample's frames, [Tn][C].
    const lp = new Float64Array(Tn * C);
    for (let t = 0; t < Tn; t++) {
      const base = (t * N + n) * C;
      let norm = 0;
      if (kind === 'logits') {
        let m = -Infinity;
        for (let c = 0; c < C; c++) m = Math.max(m, scores[base + c]!);
        let s = 0;
        for (let c = 0; c < C; c++) s += Math.exp(scores[base + c]! - m);
        norm = m + Math.log(s);
      }
      for (let c = 0; c < C; c++) {
        const v = scores[base + c]!;
        lp[t * C + c] = kind === 'probs' ? Math.log(v) : v - norm;
      }
    }
    const beams = ctcPrefixBeamSearch((t, c) => lp[t * C + c]!, Tn, C, beamWidth, blank);
    out.push(beams[0] ?? { sequence: [], logProb: -Infinity });
  }
  return out;
}
