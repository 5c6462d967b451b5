export * from './types.js';
export { graphSchema } from './schema.js';
export { validateGraph, GraphValidationError } from './validate.js';
export { caseWeight, datasetShares, datasetWeight } from './sampling.js';
export { BACKGROUND_CHANNEL, hasRegions, outputChannelCount, outputChannels, outputLayoutFor } from './outputs.js';
