/**
 * Test hook, through the internal entry: the most tiles conv2d's Winograd path puts in one
 * chunk (0: as many as a storage binding holds), so that tests can cover the chunked path
 * without batches of hundreds of megabytes.
 */
export const winogradTuning = { maxTiles: 0 };
