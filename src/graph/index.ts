export * from './types.js';
export { graphSchema } from './schema.js';
export { validateGraph, GraphValidationError } from './validate.js';
export { caseWeight, datasetShares, datasetWeight } from './sampling.js';
export { filterByGlobs, globToRegExp, isGlob, matchesGlob } from './glob.js';
