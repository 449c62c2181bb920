/**
 * Test hooks, through the internal entry:
 * - maxTiles: the most tiles conv2d's Winograd path puts in one chunk (0: as many as a storage
 *   binding holds), so that tests can cover the chunked path without batches of hundreds of
 *   megabytes;
 * - batchPlanes: false runs every plane product as its own matmul, as before small planes were
 *   batched (conv2d.ts, PLANE_BATCH_NK), so that tests can compare the two.
 */
export const winogradTuning = { maxTiles: 0, batchPlanes: true };
