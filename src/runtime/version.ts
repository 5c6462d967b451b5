/** Software versions recorded next to every model and in reports. */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { GRAPH_SCHEMA_VERSION } from '../graph/types.js';

let cached: string | undefined;

/** This package's version (from its package.json; src/ and dist/ sit at the same depth). */
export function mtcVersion(): string {
  if (cached === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
      cached = pkg.version ?? 'unknown';
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}

export interface SoftwareVersions {
  mtc: string;
  node: string;
  tfjs: string;
  /** The tfjs backend in use when the record was made. */
  backend: string;
  graphSchema: number;
}

export function softwareVersions(): SoftwareVersions {
  let backend = 'none';
  try {
    backend = tf.getBackend() ?? 'none';
  } catch {
    backend = 'none';
  }
  return { mtc: mtcVersion(), node: process.version, tfjs: tf.version.tfjs, backend, graphSchema: GRAPH_SCHEMA_VERSION };
}
