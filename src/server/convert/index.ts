// Proto <-> domain conversions, shared by every handler file.
export * from './common.js';
export * from './container-config.js';
export * from './container-status.js';
export * from './sandbox.js';
