/**
 * The entry of a worker thread, from the URL of its compiled module. In the package (dist/) that is
 * the `.js` file itself. When the project runs from its TypeScript sources (the tests, under
 * vitest) there is no `.js` next to the `.ts`: the worker then starts from a small bootstrap that
 * registers a module hook transpiling `.ts` files with the `typescript` package (a development
 * dependency) and imports the `.ts` entry. Nothing of this is reached from dist/.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dataUrl = (code: string): string => `data:text/javascript,${encodeURIComponent(code)}`;

/** Module hooks: `./x.js` imported from a `.ts`/`.tsx` file resolves to `./x.ts` or `./x.tsx` when only that exists; both are transpiled. */
function hooksSource(typescriptUrl: string): string {
  return `
import { readFileSync, existsSync, mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
let ts;
const cacheDir = join(tmpdir(), 'mtc-worker-ts-cache');
export async function resolve(specifier, context, next) {
  if (context.parentURL && /\\.tsx?$/.test(context.parentURL) && specifier.startsWith('.') && specifier.endsWith('.js')) {
    const js = new URL(specifier, context.parentURL);
    if (!existsSync(fileURLToPath(js))) {
      for (const ext of ['.ts', '.tsx']) {
        const tsUrl = new URL(specifier.slice(0, -3) + ext, context.parentURL);
        if (existsSync(fileURLToPath(tsUrl))) return { url: tsUrl.href, format: 'module', shortCircuit: true };
      }
    }
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (!url.startsWith('file:') || !/\\.tsx?$/.test(url)) return next(url, context);
  const file = fileURLToPath(url);
  const text = readFileSync(file, 'utf8');
  // Transpiled output is cached by content (loading the compiler is most of a worker's start-up).
  const cached = join(cacheDir, createHash('sha256').update('react-jsx\0').update(file).update('\0').update(text).digest('hex') + '.js');
  if (existsSync(cached)) return { format: 'module', source: readFileSync(cached, 'utf8'), shortCircuit: true };
  ts ??= (await import(${JSON.stringify(typescriptUrl)})).default;
  const out = ts.transpileModule(text, {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, jsx: ts.JsxEmit.ReactJSX, sourceMap: false },
  }).outputText;
  try {
    mkdirSync(cacheDir, { recursive: true });
    const tmp = cached + '.' + process.pid + '.' + Math.random().toString(36).slice(2) + '.tmp';
    writeFileSync(tmp, out);
    renameSync(tmp, cached);
  } catch {}
  return { format: 'module', source: out, shortCircuit: true };
}
`;
}

/** The URL to start a worker from, for the compiled module `jsUrl` (see the module comment). */
export function workerEntryUrl(jsUrl: URL): URL {
  if (existsSync(fileURLToPath(jsUrl))) return jsUrl;
  const tsUrl = new URL(jsUrl.href.replace(/\.js$/, '.ts'));
  if (!existsSync(fileURLToPath(tsUrl))) throw new Error(`worker module ${fileURLToPath(jsUrl)} is missing (run npm run build)`);
  let typescript: string;
  try {
    typescript = pathToFileURL(createRequire(import.meta.url).resolve('typescript')).href;
  } catch {
    throw new Error(`worker module ${fileURLToPath(jsUrl)} is missing and the TypeScript sources cannot run without the 'typescript' package (run npm run build)`);
  }
  const boot = `import { register } from 'node:module';\nregister(${JSON.stringify(dataUrl(hooksSource(typescript)))});\nawait import(${JSON.stringify(tsUrl.href)});\n`;
  return new URL(dataUrl(boot));
}
