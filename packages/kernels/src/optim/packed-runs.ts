/**
 * Runs of neighbouring views: where a model keeps its parameters (and the trainer its
 * gradients) as views of one buffer in list order (a packed arena, models' ParamArena), the
 * optimizer steps and the clip treat a run of them as one range and record one dispatch for
 * it instead of one or two per tensor. Per element the arithmetic is the same, so the
 * results are too (tested bit for bit against separate tensors).
 */
import type { Tensor } from '@crnn/core';

/** List entries [start, end) that lie next to one another in memory in every list. */
export interface Run {
  start: number;
  end: number;
}

/**
 * Whether entry i follows entry i - 1 in every list alike: the same buffer, the same byte
 * distance in each list, after its predecessor's end with less than `gap` bytes between
 * (then no other bound view, whose offset is a multiple of the storage offset alignment
 * `gap`, can lie between them), and 16-byte aligned offsets so that vec4 k of the range is
 * vec4 k of one layout in every list.
 */
function follows(lists: ReadonlyArray<readonly Tensor[]>, i: number, gap: number): boolean {
  let delta = -1;
  for (const l of lists) {
    const a = l[i - 1]!;
    const b = l[i]!;
    if (a.storage !== b.storage || a.byteOffset % 16 !== 0 || b.byteOffset % 16 !== 0) return false;
    const d = b.byteOffset - a.byteOffset;
    if (delta >= 0 && d !== delta) return false;
    delta = d;
    const end = a.byteOffset + a.byteLength;
    if (b.byteOffset < end || b.byteOffset - end >= gap) return false;
  }
  return true;
}

/**
 * Splits indices 0 .. n - 1 of equally long lists into maximal runs of neighbours (see
 * `follows`); separate tensors give runs of one. `gap` is the device's
 * minStorageBufferOffsetAlignment.
 */
export function packedRuns(lists: ReadonlyArray<readonly Tensor[]>, gap: number): Run[] {
  const n = lists[0]?.length ?? 0;
  const runs: Run[] = [];
  let start = 0;
  for (let i = 1; i <= n; i++) {
    if (i < n && follows(lists, i, gap)) continue;
    if (n > 0) runs.push({ start, end: i });
    start = i;
  }
  return runs;
}

/**
 * The layout packedRuns looks for: element offsets for tensors of `sizes` elements laid out
 * in order, each at the next multiple of the storage offset alignment (`alignBytes`), so
 * every gap is under one alignment step; `total` is the elements the buffer needs.
 */
export function packedOffsets(sizes: readonly number[], alignBytes: number): { offsets: number[]; total: number } {
  const align = alignBytes / 4;
  const offsets: number[] = [];
  let total = 0;
  for (const n of sizes) {
    offsets.push(total);
    total += Math.ceil(n / align) * align;
  }
  return { offsets, total };
}

/** Elements from the first entry of a run to the end of its last (gaps included). */
export function runElements(list: readonly Tensor[], r: Run): number {
  const first = list[r.start]!;
  const last = list[r.end - 1]!;
  return (last.byteOffset + last.byteLength - first.byteOffset) / 4;
}

/** runElements rounded up to whole vec4s. */
export function runElements4(list: readonly Tensor[], r: Run): number {
  return Math.ceil(runElements(list, r) / 4) * 4;
}

/**
 * The range a kernel covers for a run: runElements rounded up to whole vec4s where every
 * list's buffer has room, so that the vec4 entry point covers the last tensor's 1-3
 * left-over elements too and no one-element-at-a-time dispatch follows. Safe for the same
 * reason as the gaps: any other bound view starts at a multiple of the storage offset
 * alignment, which a round-up to 16 bytes does not pass.
 */
export function runRange(lists: ReadonlyArray<readonly Tensor[]>, r: Run): number {
  const n4 = runElements4(lists[0]!, r);
  return lists.every((l) => l[r.start]!.byteOffset + 4 * n4 <= l[r.start]!.storage.byteLength) ? n4 : runElements(lists[0]!, r);
}

/** Element offset of entry i from the first entry of its run. */
export function runOffset(list: readonly Tensor[], r: Run, i: number): number {
  return (list[i]!.byteOffset - list[r.start]!.byteOffset) / 4;
}
