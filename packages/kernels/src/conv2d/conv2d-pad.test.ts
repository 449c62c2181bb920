import { Rng, Runtime } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asF32, assertClose, randomArray } from '../testing.js';
import { pad, padByRows } from './conv2d.js';

// The padded / dilated / cropped copy that the fast and Winograd paths read (conv2d-pad.wgsl),
// both entry points, against a plain-loop reference of its definition:
//   dst[plane, h*dh + pt, w*dw + pl] = src[plane, h, w], zero elsewhere.
let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

function padRef(src: Float64Array, [n, c, h, w]: number[], hp: number, wp: number, pt: number, pl: number, dh: number, dw: number): Float64Array {
  const out = new Float64Array(n! * c! * hp * wp);
  for (let p = 0; p < n! * c!; p++)
    for (let r = 0; r < h!; r++)
      for (let q = 0; q < w!; q++) {
        const dr = r * dh + pt;
        const dq = q * dw + pl;
        if (dr < 0 || dr >= hp || dq < 0 || dq >= wp) continue;
        out[(p * hp + dr) * wp + dq] = src[(p * h! + r) * w! + q]!;
      }
  return out;
}

// [shape, hp, wp, pt, pl, dh, dw]. rows4 takes dw = 1, wp % 4 = 0 and a source of a multiple
// of 4 elements; the others run the element kernel.
// 'view': nothing to pad, pad() hands back a view of the source (no dispatch).
type Case = [number[], number, number, number, number, number, number, 'rows4' | 'element' | 'view'];
const CASES: Case[] = [
  [[2, 4, 5, 7], 8, 12, 1, 1, 1, 1, 'rows4'], // rows of 7 start at every offset mod 4
  [[1, 4, 4, 25], 6, 28, 1, 1, 1, 1, 'rows4'], // the CRNN's 25-wide maps
  [[2, 2, 3, 8], 5, 8, 0, 0, 1, 1, 'rows4'], // no padding, extra rows at the bottom
  [[1, 4, 6, 10], 4, 8, -1, -2, 1, 1, 'rows4'], // crop: negative offsets, rows and columns dropped
  [[1, 2, 4, 6], 12, 16, 2, 3, 3, 1, 'rows4'], // a row dilation of 3 (dx of a row stride)
  [[1, 4, 5, 5], 9, 20, 2, 5, 1, 1, 'rows4'], // a left pad beyond a vec4; the first s0 < 0
  [[2, 3, 5, 7], 10, 16, 1, 1, 2, 2, 'element'], // column dilation
  [[1, 3, 4, 5], 6, 7, 1, 1, 1, 1, 'element'], // wp % 4 != 0
  [[1, 1, 3, 5], 5, 8, 1, 1, 1, 1, 'element'], // 15 source elements
  [[2, 3, 4, 8], 4, 8, 0, 0, 1, 1, 'view'], // dw-fast's dy on whole steps: the source itself
  [[1, 1, 3, 5], 3, 5, 0, 0, 1, 1, 'view'],
];

describe('conv2d pad', () => {
  it('matches the reference on both entry points', async () => {
    const rng = new Rng(77);
    for (const [shape, hp, wp, pt, pl, dh, dw, path] of CASES) {
      const identity = hp === shape[2] && wp === shape[3] && pt === 0 && pl === 0 && dh === 1 && dw === 1;
      expect(identity ? 'view' : padByRows(shape.reduce((a, b) => a * b, 1), wp, dw) ? 'rows4' : 'element').toBe(path);
      const src = asF32(randomArray(rng, shape.reduce((a, b) => a * b, 1)));
      // A pooled buffer that held other values: rows4 must write the padding too.
      rt.upload(new Float32Array(shape[0]! * shape[1]! * hp * wp).fill(7), [shape[0]! * shape[1]! * hp * wp]).dispose();
      const input = rt.upload(src, shape);
      const dispatches = rt.stats().dispatches;
      const out = pad(rt, input, hp, wp, pt, pl, dh, dw);
      expect(out.shape).toEqual([shape[0], shape[1], hp, wp]);
      // The view shares the source's buffer and records nothing; the copies record one dispatch.
      expect(out.buffer === input.buffer).toBe(path === 'view');
      expect(rt.stats().dispatches - dispatches).toBe(path === 'view' ? 0 : 1);
      input.dispose();
      assertClose(await rt.read(out), padRef(src, shape, hp, wp, pt, pl, dh, dw), { atol: 0, rtol: 0 }, `pad ${JSON.stringify([shape, hp, wp, pt, pl, dh, dw])}`);
    }
  });

  it('keeps NaN and infinities where they land', async () => {
    const src = new Float32Array(4 * 9).map((_, i) => i);
    src[0] = Number.NaN;
    src[13] = Number.POSITIVE_INFINITY;
    src[35] = Number.NEGATIVE_INFINITY;
    const got = await rt.read(pad(rt, rt.upload(src, [1, 4, 1, 9]), 3, 12, 1, 2));
    const want = padRef(Float64Array.from(src), [1, 4, 1, 9], 3, 12, 1, 2, 1, 1);
    for (let i = 0; i < want.length; i++) {
      if (!Object.is(got[i], want[i]) && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) {
        throw new Error(`pad: index ${i}: got ${got[i]}, want ${want[i]}`);
      }
    }
  });
});
