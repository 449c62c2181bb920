/**
 * Learning-rate schedules, stepped once per epoch, with their state in plain JSON for
 * checkpoints: constant, step (x gamma every stepSize epochs), cosine (from lr to minLr over
 * the run), and reduce-on-plateau (x gamma after `patience` epochs without improvement of the
 * validation metric, PyTorch's ReduceLROnPlateau in 'min' mode with rel threshold 1e-4).
 */
export type ScheduleKind = 'constant' | 'step' | 'cosine' | 'plateau';

export interface ScheduleState {
  kind: ScheduleKind;
  baseLr: number;
  lr: number;
  epoch: number;
  best: number | null;
  bad: number;
}

export interface ScheduleOptions {
  kind: ScheduleKind;
  baseLr: number;
  epochs: number;
  stepSize: number;
  gamma: number;
  minLr: number;
  patience: number;
}

export class LrSchedule {
  private s: ScheduleState;

  constructor(
    private readonly o: ScheduleOptions,
    state?: ScheduleState,
  ) {
    this.s = state ? { ...state } : { kind: o.kind, baseLr: o.baseLr, lr: o.baseLr, epoch: 0, best: null, bad: 0 };
  }

  get lr(): number {
    return this.s.lr;
  }

  get state(): ScheduleState {
    return { ...this.s };
  }

  /** Called after each epoch with the validation metric to minimise (loss or CER). */
  step(metric: number): number {
    const o = this.o;
    const s = this.s;
    s.epoch++;
    switch (o.kind) {
      case 'constant':
        break;
      case 'step':
        s.lr = o.baseLr * o.gamma ** Math.floor(s.epoch / o.stepSize);
        break;
      case 'cosine': {
        const t = Math.min(1, s.epoch / Math.max(1, o.epochs));
        s.lr = o.minLr + (o.baseLr - o.minLr) * 0.5 * (1 + Math.cos(Math.PI * t));
        break;
      }
      case 'plateau':
        if (Number.isFinite(metric) && (s.best === null || metric < s.best * (1 - 1e-4))) {
          s.best = metric;
          s.bad = 0;
        } else if (++s.bad > o.patience) {
          s.lr = Math.max(o.minLr, s.lr * o.gamma);
          s.bad = 0;
        }
        break;
    }
    return s.lr;
  }
}
