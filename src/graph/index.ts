export * from './types.js';
export { graphSchema } from './schema.js';
export { validateGraph, GraphValidationError } from './validate.js';
