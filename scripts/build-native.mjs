#!/usr/bin/env node
// Builds the optional native conv3d addon (native/conv3d -> native/build/mtc_conv3d.node)
// with the system C++ compiler against Node's own Node-API headers: the kernels once per
// instruction set (avx512, avx2, generic on x86; generic elsewhere), chosen at run time from cpuid.
//
// Never fails the install: on any problem it prints one warning line and exits 0,
// and the project keeps using TensorFlow.js's own CPU kernels.
//
// Environment:
//   MTC_SKIP_NATIVE=1   do not build
//   MTC_NATIVE_FORCE=1  rebuild even if the addon is newer than its sources
//   CXX                 compiler (default: g++, then c++, then clang++)
//   npm_config_nodedir  Node headers root (…/include/node is searched)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'native', 'conv3d');
const outDir = join(root, 'native', 'build');
const outFile = join(outDir, 'mtc_conv3d.node');
const tag = 'mtc native conv3d:';

function warn(message) {
  console.warn(`${tag} WARNING: ${message} -- falling back to TensorFlow.js CPU kernels (slow conv3d).`);
}

function findHeaders() {
  const version = process.version.replace(/^v/, '');
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    join(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
    join(homedir(), '.cache', 'node-gyp', version, 'include', 'node'),
    join(homedir(), '.node-gyp', version, 'include', 'node'),
  ].filter(Boolean);
  return candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
}

function findCompiler() {
  const names = process.env.CXX ? [process.env.CXX] : ['g++', 'c++', 'clang++'];
  return names.find((cxx) => {
    const r = spawnSync(cxx, ['--version'], { stdio: 'ignore' });
    return r.status === 0;
  });
}

function upToDate() {
  if (process.env.MTC_NATIVE_FORCE === '1' || !existsSync(outFile)) return false;
  const built = statSync(outFile).mtimeMs;
  const inputs = readdirSync(srcDir).map((f) => join(srcDir, f));
  inputs.push(fileURLToPath(import.meta.url));
  return inputs.every((f) => statSync(f).mtimeMs <= built);
}

function run(cmd, args) {
  return new Promise((resolveRun) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (e) => resolveRun({ ok: false, stderr: String(e) }));
    child.on('close', (code) => resolveRun({ ok: code === 0, stderr }));
  });
}

function smokeTest(file) {
  const require = createRequire(import.meta.url);
  const addon = require(file);
  const info = addon.info();
  // 1x1x1 conv of a 1x1x1x2x1 input: y = x * w.
  const y = new Float32Array(2);
  addon.forward(
    new Float32Array([2, 3]),
    new Float32Array([0.5]),
    new Int32Array([1, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]),
    y,
  );
  if (y[0] !== 1 || y[1] !== 1.5) throw new Error(`self-test gave [${y[0]}, ${y[1]}], expected [1, 1.5]`);
  return info;
}

async function main() {
  if (process.env.MTC_SKIP_NATIVE === '1') {
    console.log(`${tag} skipped (MTC_SKIP_NATIVE=1).`);
    return;
  }
  if (upToDate()) {
    console.log(`${tag} up to date (${outFile}).`);
    return;
  }
  const headers = findHeaders();
  if (!headers) return warn('Node-API headers (node_api.h) not found; set npm_config_nodedir');
  const cxx = findCompiler();
  if (!cxx) return warn('no C++ compiler found (install g++ or set CXX)');

  mkdirSync(outDir, { recursive: true });
  const tmpDir = join(outDir, `tmp-${process.pid}`);
  mkdirSync(tmpDir, { recursive: true });
  try {
    const common = ['-std=c++17', '-O3', '-fPIC', '-fvisibility=hidden', '-ffp-contract=fast',
      '-pthread', '-DNAPI_VERSION=8', `-I${headers}`, `-I${srcDir}`, '-c'];
    const x86 = arch() === 'x64' || arch() === 'ia32';
    // One object per instruction-set build of each kernel file; the optimiser kernels never fuse
    // multiply-adds (their results must not depend on the build, see optim.h).
    const isaUnits = (isa, flags) => [
      { src: 'kernels.cpp', obj: `kernels_${isa}.o`, flags: [`-DMTC_ISA_NS=${isa}`, ...flags], isa },
      { src: 'normact.cpp', obj: `normact_${isa}.o`, flags: [`-DMTC_ISA_NS=${isa}`, ...flags], isa },
      { src: 'optim.cpp', obj: `optim_${isa}.o`, flags: [`-DMTC_ISA_NS=${isa}`, ...flags, '-ffp-contract=off', '-fno-math-errno'], isa },
    ];
    const avx2 = ['-mavx2', '-mfma'];
    const avx512 = [...avx2, '-mavx512f', '-mavx512dq', '-mavx512bw', '-mavx512vl', '-mprefer-vector-width=512'];
    const build = async (isas) => {
      const have = [
        ...(isas.includes('avx2') ? ['-DMTC_HAVE_X86_BUILDS'] : []),
        ...(isas.includes('avx512') ? ['-DMTC_HAVE_AVX512_BUILD'] : []),
      ];
      const units = [
        { src: 'addon.cpp', obj: 'addon.o', flags: have },
        { src: 'thread_pool.cpp', obj: 'thread_pool.o', flags: [] },
        { src: 'normact_addon.cpp', obj: 'normact_addon.o', flags: have },
        { src: 'optim_addon.cpp', obj: 'optim_addon.o', flags: have },
        { src: 'layout.cpp', obj: 'layout.o', flags: [] },
        ...isaUnits('generic', []),
        ...(isas.includes('avx2') ? isaUnits('avx2', avx2) : []),
        ...(isas.includes('avx512') ? isaUnits('avx512', avx512) : []),
      ];
      const results = await Promise.all(units.map((u) =>
        run(cxx, [...common, ...u.flags, join(srcDir, u.src), '-o', join(tmpDir, u.obj)])));
      const failed = results.findIndex((r) => !r.ok);
      return { units, results, failed };
    };
    // Every build the compiler can make: avx512 and avx2 on x86 (a compiler without AVX-512, or
    // without AVX2, still gets the builds below it), generic everywhere.
    let isas = x86 ? ['generic', 'avx2', 'avx512'] : ['generic'];
    let built = await build(isas);
    while (built.failed >= 0 && built.units[built.failed].isa && built.units[built.failed].isa !== 'generic') {
      const dropped = built.units[built.failed].isa;
      isas = isas.slice(0, isas.indexOf(dropped));
      console.warn(`${tag} the compiler cannot build the ${dropped} kernels; building ${isas.join(' and ')} only.`);
      built = await build(isas);
    }
    const { units, results, failed } = built;
    if (failed >= 0) {
      const first = results[failed].stderr.split('\n').find((l) => /error/.test(l)) ?? results[failed].stderr.trim();
      return warn(`compiling ${units[failed].src} with ${cxx} failed: ${first}`);
    }
    const tmpOut = join(tmpDir, 'mtc_conv3d.node');
    const link = await run(cxx, ['-shared', '-pthread', '-o', tmpOut, ...units.map((u) => join(tmpDir, u.obj))]);
    if (!link.ok) return warn(`linking failed: ${link.stderr.trim().split('\n')[0]}`);
    let info;
    try {
      info = smokeTest(tmpOut);
    } catch (e) {
      return warn(`built addon failed its self-test: ${e instanceof Error ? e.message : String(e)}`);
    }
    renameSync(tmpOut, outFile); // atomic: concurrent loaders never see a partial file
    console.log(`${tag} built ${outFile} (builds ${isas.join(', ')}; this CPU runs ${info.isas.join(', ')}; using ${info.isa}, ${info.threads} threads).`);
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

main().catch((e) => warn(`unexpected error: ${e instanceof Error ? e.message : String(e)}`));
