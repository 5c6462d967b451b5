/**
 * Does an image look like CT in Hounsfield units? A trained model's normalisation assumes HU, so a
 * label map, an already normalised volume, raw stored values without the rescale, or an MR image
 * would give confident nonsense. These rules catch those cases and say what to do.
 */
import { MtDataError } from '../errors.js';

/** The first reason `data` does not look like CT in HU, or null when it does. */
export function ctLikeProblem(data: ArrayLike<number>): string | null {
  if (data.length === 0) return 'holds no voxels';
  let min = Infinity;
  let max = -Infinity;
  let integers = true;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
    if (integers && v !== Math.round(v)) integers = false;
  }
  const range = `intensities ${fmt(min)} to ${fmt(max)}`;
  if (min === max) return `is constant (every voxel is ${fmt(min)}), which no CT scan is`;
  if (integers && min >= 0 && max <= 255) {
    return `holds only whole numbers 0..${fmt(max)}: it looks like a label map or an 8-bit image, not CT in Hounsfield units`;
  }
  if (min >= -10 && max <= 10) {
    return `has ${range}: it looks already normalised (CT in Hounsfield units spans about -1000 for air to +1000 for bone)`;
  }
  if (min >= 0) {
    return (
      `has ${range} and no negative value: CT in Hounsfield units has air at -1000 and fat below 0. ` +
      'This looks like stored scanner values without the rescale slope/intercept, or not a CT (MR?)'
    );
  }
  return null;
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}

/** Throws an MtDataError naming `path` when the image does not look like CT in HU. */
export function checkCtLike(path: string, data: ArrayLike<number>): void {
  const problem = ctLikeProblem(data);
  if (problem) {
    throw MtDataError.about(
      path,
      `does not look like a CT in Hounsfield units: it ${problem}`,
      'Pass the original CT (NIfTI with HU values, as the model was trained on); if you are sure it is right, add --no-ct-check',
    );
  }
}
