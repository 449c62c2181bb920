import { Rng } from '@crnn/core';
import { describe, expect, it } from 'vitest';
import { combineParts, decompose, leafPart, reduceParts, splitBatch, treeLevels, type MicroResult, type Part } from './micro.js';

const leaf = (rng: Rng, k: number, n: number, nullGrad = false): MicroResult => ({
  k,
  loss: rng.next() * 5,
  grads: [Float32Array.from({ length: n }, () => (rng.next() - 0.5) * 10 ** (rng.int(12) - 6)), nullGrad ? null : Float32Array.from({ length: 3 }, () => rng.next())],
  buffers: [Float32Array.from({ length: 2 }, () => rng.next())],
});

const bits = (a: Float32Array | null) => (a ? Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length)) : null);

describe('micro-batch reduction tree', () => {
  it('gives the same bits for every way of dealing the micro-batches', () => {
    const rng = new Rng(7);
    for (const M of [1, 2, 3, 4, 5, 8, 13]) {
      // Some micro-batches absent (a last batch smaller than M).
      const present = Array.from({ length: M }, (_, k) => k).filter((k) => M < 5 || k !== M - 2);
      const leaves = present.map((k) => leaf(rng, k, 257, k === 1));
      const ref = reduceParts(leaves.map(leafPart), M);
      for (let trial = 0; trial < 20; trial++) {
        // Deal to 1..4 workers at random (not only contiguous runs), each returning its nodes.
        const W = 1 + rng.int(4);
        const owner = new Map(present.map((k) => [k, rng.int(W)]));
        const parts: Part[] = [];
        for (let w = 0; w < W; w++) {
          const mine = present.filter((k) => owner.get(k) === w);
          for (const u of decompose(mine, present, M)) {
            const p = combineParts(leaves.filter((l) => u.ks.includes(l.k)).map(leafPart), u.level, u.index)!;
            expect(p.ks).toEqual(u.ks);
            parts.push(p);
          }
        }
        const got = reduceParts(parts, M);
        expect(got.loss).toBe(ref.loss);
        expect(got.grads.map(bits)).toEqual(ref.grads.map(bits));
        expect(got.buffers.map(bits)).toEqual(ref.buffers.map(bits));
      }
    }
  });

  it('decomposes a worker run into maximal tree nodes', () => {
    const all = [0, 1, 2, 3, 4, 5, 6, 7];
    expect(treeLevels(8)).toBe(3);
    expect(decompose(all, all, 8)).toEqual([{ level: 3, index: 0, ks: all }]);
    expect(decompose([2, 3, 4], all, 8)).toEqual([
      { level: 1, index: 1, ks: [2, 3] },
      { level: 0, index: 4, ks: [4] },
    ]);
    // Absent micro-batches do not split a node: [4, 6) with 5 absent is covered by {4}.
    expect(decompose([4, 6, 7], [0, 1, 2, 3, 4, 6, 7], 8)).toEqual([{ level: 2, index: 1, ks: [4, 6, 7] }]);
  });

  it('a NaN anywhere makes the step non-finite', () => {
    const rng = new Rng(3);
    const leaves = [0, 1, 2, 3].map((k) => leaf(rng, k, 16));
    leaves[2]!.grads[0]![5] = NaN;
    expect(reduceParts(leaves.map(leafPart), 4).finite).toBe(false);
  });

  it('splits a batch into at most M micro-batches in order, seeds by (seed, step, k)', () => {
    const batch = { images: new Float32Array(5 * 4), shape: [5, 1, 2, 2] as [number, number, number, number], labels: [[1], [2], [3], [4], [5]], texts: [], paths: [], indices: [] };
    const mbs = splitBatch(batch, 4, 0, 0);
    expect(mbs.map((m) => m.labels.flat())).toEqual([[1], [2], [3], [4, 5]]);
    expect(splitBatch(batch, 8, 0, 0).map((m) => m.k)).toEqual([1, 3, 4, 6, 7]);
    expect(new Set(mbs.map((m) => m.seed)).size).toBe(4);
    expect(splitBatch(batch, 4, 0, 1)[0]!.seed).not.toBe(mbs[0]!.seed);
  });
});
