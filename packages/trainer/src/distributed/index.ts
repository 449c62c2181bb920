export * from './protocol.js';
export { Coordinator, NoWorkersError, tokenMatches, type CoordinatorOptions } from './coordinator.js';
export { runWorker, workerMain, WORKER_HELP, type WorkerOptions, type WorkerResult } from './worker.js';
export { spawnLocalWorkers, stopLocalWorkers, trainDistributed, workerEntry, type DistributedOptions, type LocalWorkerOptions } from './local.js';
export { SideFiles } from './side-files.js';
