import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from './safetensors.js';

const vector = resolve(import.meta.dirname, '../test-vectors/crnn-tiny.safetensors');

describe('safetensors', () => {
  it('round-trips F32 and I64 tensors and metadata bit-exactly', () => {
    const data = Float32Array.from([1.5, -0, Math.PI, 1e-38, -3.4e38, NaN]);
    const bytes = encodeSafetensors(
      [
        ['a.weight', { dtype: 'F32', shape: [2, 3], data }],
        ['a.num_batches_tracked', { dtype: 'I64', shape: [], data: Float64Array.of(12345) }],
      ],
      { format: 'pt' },
    );
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({ format: 'pt' });
    const a = tensors.get('a.weight')!;
    expect(a.shape).toEqual([2, 3]);
    expect(new Uint32Array(Float32Array.from(a.data).buffer)).toEqual(new Uint32Array(data.buffer));
    expect(Array.from(tensors.get('a.num_batches_tracked')!.data)).toEqual([12345]);
  });

  it('reads the file written by the independent reference writer', () => {
    const { tensors, metadata } = decodeSafetensors(readFileSync(vector), vector);
    expect(metadata.format).toBe('pt');
    expect(tensors.get('conv.0.weight')!.shape).toEqual([4, 1, 3, 3]);
    expect(tensors.get('conv.6.num_batches_tracked')!.dtype).toBe('I64');
    expect(tensors.size).toBe(21);
  });

  it('names the file and the problem for truncated and corrupt files', () => {
    const good = new Uint8Array(readFileSync(vector));
    const cases: Array<[Uint8Array, RegExp]> = [
      [good.subarray(0, 5), /shorter than the 8-byte header length/],
      [good.subarray(0, 100), /header length \d+ exceeds the file/],
      [good.subarray(0, good.length - 10), /ends at byte \d+ of a \d+-byte data section: truncated\?/],
    ];
    const bad = good.slice();
    bad[8] = 0x78; // 'x' where the header's opening '{' was
    cases.push([bad, /header is not valid JSON/]);
    for (const [bytes, re] of cases) {
      expect(() => decodeSafetensors(bytes, 'x.safetensors')).toThrow(SafetensorsError);
      expect(() => decodeSafetensors(bytes, 'x.safetensors')).toThrow(re);
      expect(() => decodeSafetensors(bytes, 'x.safetensors')).toThrow(/^x\.safetensors: not a valid safetensors file/);
    }
    const wrongDtype = encodeSafetensors([['w', { dtype: 'F32', shape: [1], data: Float32Array.of(1) }]]);
    const text = new TextDecoder().decode(wrongDtype).replace('"F32"', '"Q99"');
    expect(() => decodeSafetensors(new TextEncoder().encode(text), 'q.safetensors')).toThrow(/unsupported dtype "Q99"/);
  });
});
