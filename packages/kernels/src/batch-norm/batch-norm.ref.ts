// Float64 CPU reference for batch normalization (plain loops), x viewed as [N, C, S].

export interface BatchNormRefOptions {
  weight?: ArrayLike<number> | null;
  bias?: ArrayLike<number> | null;
  runningMean?: ArrayLike<number> | null;
  runningVar?: ArrayLike<number> | null;
  training: boolean;
  momentum?: number;
  eps?: number;
}

export interface BatchNormRefResult {
  y: Float64Array;
  mean: Float64Array;
  invstd: Float64Array;
  /** Updated copies of the running statistics (training with running stats), else the inputs. */
  runningMean: Float64Array | null;
  runningVar: Float64Array | null;
}

export function batchNormRef(x: ArrayLike<number>, n: number, c: number, s: number, o: BatchNormRefOptions): BatchNormRefResult {
  const eps = o.eps ?? 1e-5;
  const mo = o.momentum ?? 0.1;
  const m = n * s;
  const at = (nn: number, ch: number, ss: number) => (nn * c + ch) * s + ss;
  const mean = new Float64Array(c);
  const invstd = new Float64Array(c);
  const rm = o.runningMean ? Float64Array.from(o.runningMean) : null;
  const rv = o.runningVar ? Float64Array.from(o.runningVar) : null;
  for (let ch = 0; ch < c; ch++) {
    if (o.training) {
      let sum = 0;
      for (let nn = 0; nn < n; nn++) for (let ss = 0; ss < s; ss++) sum += x[at(nn, ch, ss)]!;
      const mu = sum / m;
      let sq = 0;
      for (let nn = 0; nn < n; nn++) for (let ss = 0; ss < s; ss++) sq += (x[at(nn, ch, ss)]! - mu) ** 2;
      const v = sq / m;
      mean[ch] = mu;
      invstd[ch] = 1 / Math.sqrt(v + eps);
      if (rm && rv) {
        rm[ch] = (1 - mo) * rm[ch]! + mo * mu;
        rv[ch] = (1 - mo) * rv[ch]! + mo * (sq / (m - 1));
      }
    } else {
      mean[ch] = o.runningMean![ch]!;
      invstd[ch] = 1 / Math.sqrt(o.runningVar![ch]! + eps);
    }
  }
  const y = new Float64Array(n * c * s);
  for (let nn = 0; nn < n; nn++) {
    for (let ch = 0; ch < c; ch++) {
      const w = o.weight ? o.weight[ch]! : 1;
      const b = o.bias ? o.bias[ch]! : 0;
      for (let ss = 0; ss < s; ss++) {
        const i = at(nn, ch, ss);
        y[i] = (x[i]! - mean[ch]!) * invstd[ch]! * w + b;
      }
    }
  }
  return { y, mean, invstd, runningMean: rm, runningVar: rv };
}

/**
 * Gradients of sum(y * dy). Training: through the batch statistics,
 * dx = w * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)); eval: dx = w * invstd * dy.
 */
export function batchNormBackwardRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  n: number,
  c: number,
  s: number,
  mean: ArrayLike<number>,
  invstd: ArrayLike<number>,
  weight: ArrayLike<number> | null,
  training: boolean,
): { dx: Float64Array; dweight: Float64Array; dbias: Float64Array } {
  const m = n * s;
  const at = (nn: number, ch: number, ss: number) => (nn * c + ch) * s + ss;
  const dx = new Float64Array(n * c * s);
  const dweight = new Float64Array(c);
  const dbias = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    let sdy = 0;
    let sdyx = 0;
    for (let nn = 0; nn < n; nn++) {
      for (let ss = 0; ss < s; ss++) {
        const i = at(nn, ch, ss);
        sdy += dy[i]!;
        sdyx += dy[i]! * (x[i]! - mean[ch]!) * invstd[ch]!;
      }
    }
    dbias[ch] = sdy;
    dweight[ch] = sdyx;
    const k = (weight ? weight[ch]! : 1) * invstd[ch]!;
    for (let nn = 0; nn < n; nn++) {
      for (let ss = 0; ss < s; ss++) {
        const i = at(nn, ch, ss);
        const xhat = (x[i]! - mean[ch]!) * invstd[ch]!;
        dx[i] = training ? k * (dy[i]! - sdy / m - (xhat * sdyx) / m) : k * dy[i]!;
      }
    }
  }
  return { dx, dweight, dbias };
}
