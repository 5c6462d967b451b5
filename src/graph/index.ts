export * from './types.js';
export { graphSchema } from './schema.js';
export { validateGraph, GraphValidationError } from './validate.js';
export { caseWeight, datasetShares, datasetWeight } from './sampling.js';
export { filterByGlobs, globToRegExp, isGlob, matchesGlob } from './glob.js';
export { MTC_LAYERS, layersOf } from './layers.js';
export { TRANSFORMS, TRANSFORM_KINDS, transformDeclaration, isDummy2d, type TransformDeclaration, type TransformKind } from './transforms.js';
export { BACKGROUND_CHANNEL, hasRegions, outputChannelCount, outputChannels, outputLayoutFor } from './outputs.js';
