// Converts tfjs's Conv3DInfo into the Int32Array the native kernels take.
import * as tf from '@tensorflow/tfjs';

export type Conv3DInfo = ReturnType<typeof tf.backend_util.computeConv3DInfo>;

/** [B, Di, Hi, Wi, Ci, Do, Ho, Wo, Co, kd, kh, kw, sd, sh, sw, padFront, padTop, padLeft] */
export function nativeParams(info: Conv3DInfo): Int32Array {
  return Int32Array.from([
    info.batchSize, info.inDepth, info.inHeight, info.inWidth, info.inChannels,
    info.outDepth, info.outHeight, info.outWidth, info.outChannels,
    info.filterDepth, info.filterHeight, info.filterWidth,
    info.strideDepth, info.strideHeight, info.strideWidth,
    info.padInfo.front, info.padInfo.top, info.padInfo.left,
  ]);
}

/**
 * Whether the native kernels implement this geometry: unit dilation,
 * NDHWC, non-empty tensors, non-negative padding.
 */
export function nativeSupports(info: Conv3DInfo): boolean {
  const p = nativeParams(info);
  return (
    info.dataFormat === 'channelsLast' &&
    info.dilationDepth === 1 && info.dilationHeight === 1 && info.dilationWidth === 1 &&
    p.subarray(0, 15).every((v) => v > 0) &&
    p.subarray(15).every((v) => v >= 0)
  );
}

export function isUnitDilation(d: number | [number, number, number] | undefined): boolean {
  if (d === undefined) return true;
  return typeof d === 'number' ? d === 1 : d.every((v) => v === 1);
}
