/**
 * The trainer's host-side data pipeline (pure CPU): listing and labelling image files,
 * decoding PNG/JPEG, preprocessing to normalized one-channel images, charsets and label
 * checks, seeded splits, seeded augmentation, in-memory data sets with batching, and the
 * embedded MNIST digit-string data set.
 */
export { DataError, ImageDecodeError, LabelError, LABEL_ERROR_LIST_MAX, type BadLabel } from './errors.js';
export { listFolder, readLabelFile, readSamples, labelFromFileName, IMAGE_EXTENSIONS, type Sample } from './sources.js';
export { decodeImage, sniffImage, MAX_IMAGE_PIXELS, type RawImage } from './decode.js';
export {
  preprocess,
  defaultPreprocess,
  checkPreprocess,
  backgroundValue,
  normalizeValue,
  foldCase,
  toGrey,
  resizeBilinear,
  fitImage,
  type Preprocess,
} from './preprocess.js';
export { Charset, checkLabels } from './charset.js';
export { splitSamples } from './split.js';
export { augmentImage, defaultAugment, noAugment, affineMatrix, type Augment } from './augment.js';
export { ImageDataset, type Batch, type BatchOptions, type DatasetItem } from './dataset.js';
export { generateDigitStrings, loadMnistDigits, MNIST_TRAIN_FRACTION, type DigitStringOptions } from './digits.js';
