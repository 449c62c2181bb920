export * from './data/index.js';
export * from './report/index.js';
export { TrainConfigSchema, parseTrainConfig, loadTrainConfig, ConfigError, type TrainConfig, type TrainConfigInput } from './train/config.js';
export { LrSchedule, type ScheduleState, type ScheduleKind } from './train/schedule.js';
export { saveCheckpoint, loadCheckpoint, writeFolderAtomic, CheckpointError, type TrainerState } from './train/checkpoint.js';
export { chooseRecipe, type Recipe } from './train/recipe.js';
export { TrainingSession, makeOptimizer, batchLoss, decodeBatch, type StepResult } from './train/session.js';
export { train, TrainingStopped, type TrainHooks, type TrainResult } from './train/train.js';
