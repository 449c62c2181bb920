export { Var, Param, Tape, type BackwardFn } from './autograd.js';
export { Module, Layer, Sequential } from './module.js';
export { ParamArena } from './param-arena.js';
export { Conv2d, BatchNorm, Linear, MaxPool2d, ReLU, Dropout, Recurrent, type Conv2dConfig, type RecurrentConfig } from './layers.js';
export * as F from './ops.js';
export { Recognizer, CrnnModel, CrnnWide, CaptchaKeras, mapToSequence, type RecognizerInfo } from './crnn.js';
export { AttentionRecognizer, Embedding, isAttentionRecognizer, type AttentionConfig, type TeacherForcing } from './attention.js';
export { ZOO, zooEntry, buildModel, type ZooEntry, type ModelHyper } from './zoo.js';
export { encodeSafetensors, decodeSafetensors, SafetensorsError, type SafeTensor, type SafeDType } from './safetensors.js';
export {
  saveModel,
  loadModel,
  readModelConfig,
  saveSafetensors,
  loadSafetensorsInto,
  loadStateInto,
  stateTensors,
  writeAtomic,
  WeightsMismatchError,
  type ModelConfig,
} from './weights.js';
export { summary, formatSummary } from './summary.js';
