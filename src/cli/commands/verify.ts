import { initRuntime, type BackendChoice } from '../../runtime/setup.js';
import { CONV_CASES, LARGE_CONV_CASES, type StepCase, type VerifyCase, verifyConv, verifyStep } from '../../runtime/verify.js';
import { takeDeviceErrors } from '../../runtime/webgpu/dawn.js';
import { UserError, type CliIO } from '../io.js';
import { int, ints } from './bench.js';

export interface VerifyOptions {
  backend?: string;
  json?: boolean;
  /** Also the network-sized convolutions (for a real GPU; slow on a software adapter). */
  large?: boolean;
  /** The step to compare, as D,H,W and a feature list; 'none' skips it. */
  stepPatch?: string;
  stepFeatures?: string;
  stepBatch?: string;
  /** Architecture of that step: unet (default) or resenc_unet. */
  stepArch?: string;
  tolerance?: string;
}

/**
 * `mtc bench verify --backend webgpu`: the backend's conv3d kernels on awkward shapes and a whole
 * training step (loss and every gradient), each against the cpu backend. Exit code 1 when any
 * comparison is outside its tolerance.
 */
export async function verifyCommand(options: VerifyOptions, io: CliIO): Promise<number> {
  const backendChoice = (options.backend ?? 'webgpu') as BackendChoice;
  if (backendChoice === 'cpu' || backendChoice === 'auto') throw new UserError('--backend must name the backend to check against cpu (webgpu, wasm or tensorflow)');
  const tolerance = options.tolerance !== undefined ? Number(options.tolerance) : 1e-4;
  if (!(tolerance > 0)) throw new UserError(`--tolerance must be a positive number, got '${options.tolerance}'`);
  let step: StepCase | undefined;
  if (options.stepPatch !== 'none') {
    const patch = ints(options.stepPatch ?? '16,32,32', 'step-patch', 3);
    const features = ints(options.stepFeatures ?? '8,16,32', 'step-features');
    const batch = int(options.stepBatch, 'step-batch', 2);
    const arch = options.stepArch ?? 'unet';
    if (arch !== 'unet' && arch !== 'resenc_unet') throw new UserError(`--step-arch must be unet or resenc_unet, got '${arch}'`);
    step = { arch, patch: patch as [number, number, number], features, batch, heads: 5 };
  }
  const runtime = await initRuntime(backendChoice);
  // The cpu side must be initialised too (its native kernels registered): initRuntime did that.
  io.err(`verifying ${runtime.description} against the cpu backend`);
  const results: VerifyCase[] = [];
  const report = (cases: VerifyCase[]): void => {
    for (const c of cases) {
      results.push(c);
      if (options.json) io.out(JSON.stringify({ backend: runtime.backend, ...c }));
      else io.out(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}  error ${c.error.toExponential(2)} (tolerance ${c.tolerance.toExponential(0)})${c.detail ? '  ' + Object.entries(c.detail).map(([k, v]) => `${k} ${v.toPrecision(7)}`).join(', ') : ''}`);
    }
  };
  const convCases = options.large ? [...CONV_CASES, ...LARGE_CONV_CASES] : CONV_CASES;
  // Large reductions (27 * 320 taps, or millions of voxels for a filter gradient) sum in another order.
  for (const c of convCases) report(await verifyConv(runtime.backend, c, tolerance * (c.x[1] * c.x[2] * c.x[3] > 10000 ? 10 : 1)));
  if (step) report(await verifyStep(runtime.backend, step, tolerance));
  // Work the device rejected is skipped without an exception: any such error fails the check.
  const deviceErrors = takeDeviceErrors();
  if (deviceErrors.length > 0) {
    report([{ name: `device errors: ${deviceErrors.join('; ')}`, error: deviceErrors.length, tolerance: 0, ok: false }]);
  }
  const failed = results.filter((r) => !r.ok).length;
  if (!options.json) io.out(failed === 0 ? `all ${results.length} comparisons within tolerance` : `${failed} of ${results.length} comparisons outside tolerance`);
  return failed === 0 ? 0 : 1;
}
