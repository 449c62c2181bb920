// Float64 CPU reference of multi-layer, optionally bidirectional LSTM and GRU (PyTorch
// semantics, parameters by torch name), forward and backward through time, in plain loops.
// lstm.ref.ts and gru.ref.ts specialise it.

export type Cell = 'lstm' | 'gru';

export interface RefDims {
  T: number;
  N: number;
  I: number;
  H: number;
  L: number;
  dirs: number;
}

export interface RefForwardArgs extends RefDims {
  x: ArrayLike<number>;
  params: Readonly<Record<string, ArrayLike<number>>>;
  h0?: ArrayLike<number>;
  c0?: ArrayLike<number>;
  /** Per layer k >= 1: multipliers of the layer's input (0 or 1/(1-p)), or undefined. */
  dropMasks?: ReadonlyArray<ArrayLike<number> | undefined>;
}

interface StepCache {
  x: Float64Array;
  hPrev: Float64Array;
  cPrev: Float64Array;
  /** LSTM: i, f, g, o, c; GRU: r, z, n, a (= W_hn h + b_hn). Each [N*H]. */
  v: Float64Array[];
}

export interface RefForward {
  y: Float64Array;
  hN: Float64Array;
  cN: Float64Array;
  /** caches[layer][dir][t]. */
  caches: StepCache[][][];
  /** Each layer's (dropped) input. */
  inputs: Float64Array[];
}

const sig = (v: number) => 1 / (1 + Math.exp(-v));

function names(l: number, d: number) {
  const sfx = `_l${l}${d === 1 ? '_reverse' : ''}`;
  return { wih: `weight_ih${sfx}`, whh: `weight_hh${sfx}`, bih: `bias_ih${sfx}`, bhh: `bias_hh${sfx}` };
}

function get(params: Readonly<Record<string, ArrayLike<number>>>, name: string, n: number): ArrayLike<number> {
  return params[name] ?? new Float64Array(n);
}

export function recurrentRef(cell: Cell, a: RefForwardArgs): RefForward {
  const { T, N, I, H, L, dirs } = a;
  const G = (cell === 'lstm' ? 4 : 3) * H;
  const hN = new Float64Array(L * dirs * N * H);
  const cN = new Float64Array(L * dirs * N * H);
  const caches: StepCache[][][] = [];
  const inputs: Float64Array[] = [];
  let input = Float64Array.from(a.x);
  let y = new Float64Array(0);
  for (let l = 0; l < L; l++) {
    const inF = l === 0 ? I : dirs * H;
    const mask = l > 0 ? a.dropMasks?.[l] : undefined;
    if (mask) input = input.map((v, i) => v * mask[i]!);
    inputs.push(input);
    y = new Float64Array(T * N * dirs * H);
    const layerCache: StepCache[][] = [];
    for (let d = 0; d < dirs; d++) {
      const nm = names(l, d);
      const wih = a.params[nm.wih]!;
      const whh = a.params[nm.whh]!;
      const bih = get(a.params, nm.bih, G);
      const bhh = get(a.params, nm.bhh, G);
      const sIdx = (l * dirs + d) * N * H;
      let h = new Float64Array(N * H);
      let c = new Float64Array(N * H);
      if (a.h0) for (let i = 0; i < N * H; i++) h[i] = a.h0[sIdx + i]!;
      if (a.c0) for (let i = 0; i < N * H; i++) c[i] = a.c0[sIdx + i]!;
      const dirCache: StepCache[] = new Array<StepCache>(T);
      for (let s = 0; s < T; s++) {
        const t = d === 0 ? s : T - 1 - s;
        const xt = input.slice(t * N * inF, (t + 1) * N * inF);
        const v = Array.from({ length: 4 }, () => new Float64Array(N * H));
        const c2 = new Float64Array(N * H);
        const h2 = new Float64Array(N * H);
        for (let n = 0; n < N; n++) {
          // gi = W_ih x + b_ih, gh = W_hh h + b_hh, per gate row.
          const gi = new Float64Array(G);
          const gh = new Float64Array(G);
          for (let r = 0; r < G; r++) {
            let si = bih[r]!;
            for (let k = 0; k < inF; k++) si += wih[r * inF + k]! * xt[n * inF + k]!;
            let sh = bhh[r]!;
            for (let k = 0; k < H; k++) sh += whh[r * H + k]! * h[n * H + k]!;
            gi[r] = si;
            gh[r] = sh;
          }
          for (let j = 0; j < H; j++) {
            const e = n * H + j;
            if (cell === 'lstm') {
              const ig = sig(gi[j]! + gh[j]!);
              const fg = sig(gi[H + j]! + gh[H + j]!);
              const gg = Math.tanh(gi[2 * H + j]! + gh[2 * H + j]!);
              const og = sig(gi[3 * H + j]! + gh[3 * H + j]!);
              c2[e] = fg * c[e]! + ig * gg;
              h2[e] = og * Math.tanh(c2[e]!);
              v[0]![e] = ig;
              v[1]![e] = fg;
              v[2]![e] = gg;
              v[3]![e] = og;
            } else {
              const r = sig(gi[j]! + gh[j]!);
              const z = sig(gi[H + j]! + gh[H + j]!);
              const an = gh[2 * H + j]!;
              const nn = Math.tanh(gi[2 * H + j]! + r * an);
              h2[e] = (1 - z) * nn + z * h[e]!;
              v[0]![e] = r;
              v[1]![e] = z;
              v[2]![e] = nn;
              v[3]![e] = an;
            }
          }
        }
        dirCache[t] = { x: xt, hPrev: h, cPrev: c, v };
        for (let n = 0; n < N; n++) for (let j = 0; j < H; j++) y[(t * N + n) * dirs * H + d * H + j] = h2[n * H + j]!;
        h = h2;
        c = c2;
      }
      hN.set(h, sIdx);
      cN.set(c, sIdx);
      layerCache.push(dirCache);
    }
    caches.push(layerCache);
    input = y;
  }
  return { y, hN, cN, caches, inputs };
}

export interface RefBackwardArgs extends RefDims {
  params: Readonly<Record<string, ArrayLike<number>>>;
  fwd: RefForward;
  dy: ArrayLike<number>;
  dhN?: ArrayLike<number>;
  dcN?: ArrayLike<number>;
  dropMasks?: ReadonlyArray<ArrayLike<number> | undefined>;
}

export interface RefGrads {
  dx: Float64Array;
  grads: Record<string, Float64Array>;
  dh0: Float64Array;
  dc0: Float64Array;
}

export function recurrentBackwardRef(cell: Cell, a: RefBackwardArgs): RefGrads {
  const { T, N, I, H, L, dirs } = a;
  const G = (cell === 'lstm' ? 4 : 3) * H;
  const grads: Record<string, Float64Array> = {};
  const dh0 = new Float64Array(L * dirs * N * H);
  const dc0 = new Float64Array(L * dirs * N * H);
  let dyl = Float64Array.from(a.dy);
  let dx = new Float64Array(0);
  for (let l = L - 1; l >= 0; l--) {
    const inF = l === 0 ? I : dirs * H;
    const dxin = new Float64Array(T * N * inF);
    for (let d = 0; d < dirs; d++) {
      const nm = names(l, d);
      const wih = a.params[nm.wih]!;
      const whh = a.params[nm.whh]!;
      const dwih = new Float64Array(G * inF);
      const dwhh = new Float64Array(G * H);
      const dbih = new Float64Array(G);
      const dbhh = new Float64Array(G);
      const sIdx = (l * dirs + d) * N * H;
      const dhRec = new Float64Array(N * H);
      const dcRec = new Float64Array(N * H);
      if (a.dhN) for (let i = 0; i < N * H; i++) dhRec[i] = a.dhN[sIdx + i]!;
      if (a.dcN) for (let i = 0; i < N * H; i++) dcRec[i] = a.dcN[sIdx + i]!;
      // Handle times in the reverse of the direction's forward order.
      for (let s = T - 1; s >= 0; s--) {
        const t = d === 0 ? s : T - 1 - s;
        const st = a.fwd.caches[l]![d]![t]!;
        const dgi = new Float64Array(N * G); // input-side pre-activation gradients
        const dgh = new Float64Array(N * G); // hidden-side
        const dhDirect = new Float64Array(N * H);
        for (let n = 0; n < N; n++) {
          for (let j = 0; j < H; j++) {
            const e = n * H + j;
            const dh = dyl[(t * N + n) * dirs * H + d * H + j]! + dhRec[e]!;
            if (cell === 'lstm') {
              const [ig, fg, gg, og] = [st.v[0]![e]!, st.v[1]![e]!, st.v[2]![e]!, st.v[3]![e]!];
              const c = fg * st.cPrev[e]! + ig * gg;
              const tc = Math.tanh(c);
              const dc = dcRec[e]! + dh * og * (1 - tc * tc);
              const q = [dc * gg * ig * (1 - ig), dc * st.cPrev[e]! * fg * (1 - fg), dc * ig * (1 - gg * gg), dh * tc * og * (1 - og)];
              for (let g = 0; g < 4; g++) dgi[n * G + g * H + j] = dgh[n * G + g * H + j] = q[g]!;
              dcRec[e] = dc * fg;
            } else {
              const [r, z, nn, an] = [st.v[0]![e]!, st.v[1]![e]!, st.v[2]![e]!, st.v[3]![e]!];
              const dpn = dh * (1 - z) * (1 - nn * nn);
              const dpz = dh * (st.hPrev[e]! - nn) * z * (1 - z);
              const dpr = dpn * an * r * (1 - r);
              dgi[n * G + j] = dgh[n * G + j] = dpr;
              dgi[n * G + H + j] = dgh[n * G + H + j] = dpz;
              dgi[n * G + 2 * H + j] = dpn;
              dgh[n * G + 2 * H + j] = dpn * r;
              dhDirect[e] = dh * z;
            }
          }
        }
        // dh flowing to the previous time: dgh W_hh (+ z dh for GRU).
        for (let n = 0; n < N; n++) {
          for (let k = 0; k < H; k++) {
            let sum = dhDirect[n * H + k]!;
            for (let r = 0; r < G; r++) sum += dgh[n * G + r]! * whh[r * H + k]!;
            dhRec[n * H + k] = sum;
          }
          for (let r = 0; r < G; r++) {
            dbih[r]! += dgi[n * G + r]!;
            dbhh[r]! += dgh[n * G + r]!;
            for (let k = 0; k < inF; k++) dwih[r * inF + k]! += dgi[n * G + r]! * st.x[n * inF + k]!;
            for (let k = 0; k < H; k++) dwhh[r * H + k]! += dgh[n * G + r]! * st.hPrev[n * H + k]!;
          }
          for (let k = 0; k < inF; k++) {
            let sum = 0;
            for (let r = 0; r < G; r++) sum += dgi[n * G + r]! * wih[r * inF + k]!;
            dxin[(t * N + n) * inF + k]! += sum;
          }
        }
      }
      dh0.set(dhRec, sIdx);
      dc0.set(dcRec, sIdx);
      grads[nm.wih] = dwih;
      grads[nm.whh] = dwhh;
      grads[nm.bih] = dbih;
      grads[nm.bhh] = dbhh;
    }
    const mask = l > 0 ? a.dropMasks?.[l] : undefined;
    if (mask) for (let i = 0; i < dxin.length; i++) dxin[i]! *= mask[i]!;
    if (l > 0) dyl = dxin;
    else dx = dxin;
  }
  return { dx, grads, dh0, dc0 };
}
