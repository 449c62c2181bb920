/**
 * Float64 CPU references of torch.optim.SGD / Adam / Adadelta (PyTorch 1.13) and of
 * torch.nn.utils.clip_grad_norm_, in plain loops. Each optimizer updates its parameters
 * (Float64Arrays) in place; state is keyed by the parameter's position.
 */

export interface SgdRefOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

export class SgdRef {
  lr: number;
  private bufs: Float64Array[] | null = null;
  constructor(private readonly o: SgdRefOptions) {
    this.lr = o.lr;
  }

  step(params: Float64Array[], grads: readonly ArrayLike<number>[]): void {
    const momentum = this.o.momentum ?? 0;
    const dampening = this.o.dampening ?? 0;
    const wd = this.o.weightDecay ?? 0;
    const first = this.bufs === null;
    this.bufs ??= params.map((p) => new Float64Array(p.length));
    params.forEach((p, k) => {
      const g = grads[k]!;
      const buf = this.bufs![k]!;
      for (let i = 0; i < p.length; i++) {
        let d = g[i]!;
        if (wd !== 0) d += wd * p[i]!;
        if (momentum !== 0) {
          buf[i] = first ? d : momentum * buf[i]! + (1 - dampening) * d;
          d = this.o.nesterov ? d + momentum * buf[i]! : buf[i]!;
        }
        p[i] = p[i]! - this.lr * d;
      }
    });
  }
}

export interface AdamRefOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
}

export class AdamRef {
  lr: number;
  t = 0;
  private m: Float64Array[] | null = null;
  private v: Float64Array[] = [];
  private vmax: Float64Array[] = [];
  constructor(private readonly o: AdamRefOptions = {}) {
    this.lr = o.lr ?? 1e-3;
  }

  step(params: Float64Array[], grads: readonly ArrayLike<number>[]): void {
    const [b1, b2] = this.o.betas ?? [0.9, 0.999];
    const eps = this.o.eps ?? 1e-8;
    const wd = this.o.weightDecay ?? 0;
    if (!this.m) {
      this.m = params.map((p) => new Float64Array(p.length));
      this.v = params.map((p) => new Float64Array(p.length));
      this.vmax = params.map((p) => new Float64Array(p.length));
    }
    this.t++;
    const bc1 = 1 - b1 ** this.t;
    const bc2 = 1 - b2 ** this.t;
    params.forEach((p, k) => {
      const g = grads[k]!;
      const m = this.m![k]!;
      const v = this.v[k]!;
      const vmax = this.vmax[k]!;
      for (let i = 0; i < p.length; i++) {
        let gi = g[i]!;
        if (wd !== 0) gi += wd * p[i]!;
        m[i] = b1 * m[i]! + (1 - b1) * gi;
        v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
        let vi = v[i]!;
        if (this.o.amsgrad) {
          vmax[i] = Math.max(vmax[i]!, vi);
          vi = vmax[i]!;
        }
        const denom = Math.sqrt(vi) / Math.sqrt(bc2) + eps;
        p[i] = p[i]! - (this.lr / bc1) * (m[i]! / denom);
      }
    });
  }
}

export interface AdadeltaRefOptions {
  lr?: number;
  rho?: number;
  eps?: number;
  weightDecay?: number;
}

export class AdadeltaRef {
  lr: number;
  private sq: Float64Array[] | null = null;
  private acc: Float64Array[] = [];
  constructor(private readonly o: AdadeltaRefOptions = {}) {
    this.lr = o.lr ?? 1.0;
  }

  step(params: Float64Array[], grads: readonly ArrayLike<number>[]): void {
    const rho = this.o.rho ?? 0.9;
    const eps = this.o.eps ?? 1e-6;
    const wd = this.o.weightDecay ?? 0;
    if (!this.sq) {
      this.sq = params.map((p) => new Float64Array(p.length));
      this.acc = params.map((p) => new Float64Array(p.length));
    }
    params.forEach((p, k) => {
      const g = grads[k]!;
      const sq = this.sq![k]!;
      const acc = this.acc[k]!;
      for (let i = 0; i < p.length; i++) {
        let gi = g[i]!;
        if (wd !== 0) gi += wd * p[i]!;
        sq[i] = rho * sq[i]! + (1 - rho) * gi * gi;
        const delta = (Math.sqrt(acc[i]! + eps) / Math.sqrt(sq[i]! + eps)) * gi;
        acc[i] = rho * acc[i]! + (1 - rho) * delta * delta;
        p[i] = p[i]! - this.lr * delta;
      }
    });
  }
}

/**
 * clip_grad_norm_: the total L2 norm over all gradients and the gradients scaled by
 * min(1, maxNorm / (norm + 1e-6)) (NaN when the norm is NaN).
 */
export function clipGradNormRef(grads: readonly ArrayLike<number>[], maxNorm: number): { norm: number; clipped: Float64Array[] } {
  let ss = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) ss += g[i]! * g[i]!;
  const norm = Math.sqrt(ss);
  const coef = maxNorm / (norm + 1e-6);
  const f = Number.isNaN(coef) ? coef : Math.min(coef, 1);
  return { norm, clipped: grads.map((g) => Float64Array.from(g, (x) => x * f)) };
}
