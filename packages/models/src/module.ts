/**
 * Layers as modules with PyTorch's naming: a module owns named parameters (trainable) and
 * buffers (running statistics), and named children; `namedParameters()` and `stateDict()`
 * produce the dotted names PyTorch's `state_dict()` uses for the same structure
 * (`conv.0.weight`, `rnn.weight_hh_l0_reverse`, `conv.6.running_mean`).
 */
import type { Runtime, Tensor } from '@crnn/core';
import { Param, type Tape, type Var } from './autograd.js';

export abstract class Module {
  private readonly params = new Map<string, Param>();
  private readonly buffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  constructor(readonly rt: Runtime) {}

  protected param(name: string, value: Tensor): Param {
    const p = new Param(value, name);
    this.params.set(name, p);
    return p;
  }

  protected buffer(name: string, value: Tensor): Tensor {
    this.buffers.set(name, value);
    return value;
  }

  /** Replaces a buffer's tensor (ops that produce new running statistics). */
  protected setBuffer(name: string, value: Tensor): void {
    const old = this.buffers.get(name);
    if (old && old !== value) old.dispose();
    this.buffers.set(name, value);
  }

  protected getBuffer(name: string): Tensor {
    const b = this.buffers.get(name);
    if (!b) throw new Error(`${this.constructor.name}: no buffer '${name}'`);
    return b;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  namedParameters(prefix = ''): Array<[string, Param]> {
    const out: Array<[string, Param]> = [];
    for (const [n, p] of this.params) out.push([prefix + n, p]);
    for (const [n, c] of this.children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }

  parameters(): Param[] {
    return this.namedParameters().map(([, p]) => p);
  }

  namedBuffers(prefix = ''): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    for (const [n, b] of this.buffers) out.push([prefix + n, b]);
    for (const [n, c] of this.children) out.push(...c.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  /** Host-side scalars PyTorch keeps in the state_dict (BatchNorm's num_batches_tracked). */
  hostState(): Array<[string, number]> {
    return [];
  }

  setHostState(_name: string, _value: number): boolean {
    return false;
  }

  namedHostState(prefix = ''): Array<[string, number]> {
    const out: Array<[string, number]> = this.hostState().map(([n, v]) => [prefix + n, v]);
    for (const [n, c] of this.children) out.push(...c.namedHostState(`${prefix}${n}.`));
    return out;
  }

  /** Sets a host scalar by state_dict name; false when there is none of that name. */
  assignHostState(name: string, value: number): boolean {
    const dot = name.indexOf('.');
    if (dot >= 0) return this.children.get(name.slice(0, dot))?.assignHostState(name.slice(dot + 1), value) ?? false;
    return this.setHostState(name, value);
  }

  /** Parameters and buffers by PyTorch state_dict name, in registration order. */
  stateDict(): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = this.namedParameters().map(([n, p]) => [n, p.value]);
    return out.concat(this.namedBuffers());
  }

  /** Replaces a parameter's or buffer's tensor by state_dict name (used by weight loading). */
  assign(name: string, value: Tensor): void {
    const dot = name.indexOf('.');
    if (dot >= 0) {
      const head = name.slice(0, dot);
      const c = this.children.get(head);
      if (!c) throw new Error(`${this.constructor.name}: no child '${head}' for '${name}'`);
      c.assign(name.slice(dot + 1), value);
      return;
    }
    const p = this.params.get(name);
    if (p) {
      p.value.dispose();
      p.value = value;
      return;
    }
    if (this.buffers.has(name)) {
      this.setBuffer(name, value);
      return;
    }
    throw new Error(`${this.constructor.name}: no parameter or buffer '${name}'`);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  parameterCount(): number {
    return this.parameters().reduce((s, p) => s + p.value.size, 0);
  }

  dispose(): void {
    for (const p of this.params.values()) {
      p.value.dispose();
      p.zeroGrad();
    }
    for (const b of this.buffers.values()) b.dispose();
    for (const c of this.children.values()) c.dispose();
  }
}

/** A module mapping one Var to one Var (the layers of a Sequential). */
export abstract class Layer extends Module {
  abstract forward(tape: Tape, x: Var): Var;
  /** Output shape for an input shape, for summaries (batch dimension included). */
  abstract outputShape(input: readonly number[]): number[];
  /**
   * This layer's forward followed by `next`'s as one fused op with the same values and
   * gradients, or null where this layer cannot fuse `next` (the default). Sequential asks.
   */
  forwardThrough(_tape: Tape, _x: Var, _next: Layer): Var | null {
    return null;
  }
}

export class Sequential extends Layer {
  readonly layers: Layer[];
  /**
   * Whether forward lets a layer fuse the one after it (forwardThrough: a BatchNorm followed
   * by a ReLU runs as one pass). The same values and gradients either way (tested); false
   * for comparisons.
   */
  fuse = true;

  constructor(rt: Runtime, layers: Layer[]) {
    super(rt);
    this.layers = layers;
    layers.forEach((l, i) => this.child(String(i), l));
  }

  forward(tape: Tape, x: Var): Var {
    let h = x;
    for (let i = 0; i < this.layers.length; i++) {
      const l = this.layers[i]!;
      const next = this.layers[i + 1];
      const fused = this.fuse && next ? l.forwardThrough(tape, h, next) : null;
      if (fused) {
        h = fused;
        i++; // next ran inside the fused op
      } else {
        h = l.forward(tape, h);
      }
    }
    return h;
  }

  outputShape(input: readonly number[]): number[] {
    let s = [...input];
    for (const l of this.layers) s = l.outputShape(s);
    return s;
  }
}
