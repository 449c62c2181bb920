#!/usr/bin/env python3
"""Writes packages/models/test-vectors/crnn-tiny.safetensors: the crnn_tiny golden case's
parameters as PyTorch's state_dict would hold them, encoded by this independent writer of
the safetensors format (Python standard library only: struct + json), the way
safetensors.torch.save_file lays a file out:
  - 8-byte little-endian header length, JSON header, tensor bytes;
  - tensors ordered by dtype alignment (larger first) then name, as the Rust writer does;
  - header padded with spaces to a multiple of 8;
  - BatchNorm's running_mean / running_var (F32, torch's initial 0 and 1) and
    num_batches_tracked (I64, 1: one training forward, the golden one) included, and
    metadata {"format": "pt"}.
Made once; the repository keeps the output. Run from the repository root:
  python3 scripts/make-crnn-tiny-safetensors.py ../shared/golden/crnn_tiny_dev.json
"""
import json
import struct
import sys

src = sys.argv[1] if len(sys.argv) > 1 else '../shared/golden/crnn_tiny_dev.json'
out = 'packages/models/test-vectors/crnn-tiny.safetensors'
case = json.load(open(src))
tensors = {}
for name, t in case['inputs'].items():
    if name in ('x', 'targets', 'target_lengths'):
        continue
    tensors[name] = ('F32', t['shape'], t['data'])
tensors['conv.6.running_mean'] = ('F32', [6], [0.0] * 6)
tensors['conv.6.running_var'] = ('F32', [6], [1.0] * 6)
tensors['conv.6.num_batches_tracked'] = ('I64', [], [1])

size = {'F32': 4, 'I64': 8}
fmt = {'F32': '<f', 'I64': '<q'}
order = sorted(tensors, key=lambda n: (-size[tensors[n][0]], n))
header = {'__metadata__': {'format': 'pt'}}
blobs = []
offset = 0
for name in order:
    dtype, shape, data = tensors[name]
    raw = b''.join(struct.pack(fmt[dtype], v) for v in data)
    header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [offset, offset + len(raw)]}
    blobs.append(raw)
    offset += len(raw)
hjson = json.dumps(header, separators=(',', ':')).encode()
hjson += b' ' * ((8 - len(hjson) % 8) % 8)
with open(out, 'wb') as f:
    f.write(struct.pack('<Q', len(hjson)))
    f.write(hjson)
    for b in blobs:
        f.write(b)
print(f'wrote {out}: {len(order)} tensors, {8 + len(hjson) + offset} bytes')
