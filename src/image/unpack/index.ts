// Layer unpacking: the one entry point and the error it adds.
export { applyLayer, type ApplyLayerResult } from './apply-layer.js';
export { UnsafeLayerError } from './unsafe-layer-error.js';
