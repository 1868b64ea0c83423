// Builds dist/: the library and CLI with tsc, and the Lambda handler as one esbuild bundle
// (dist/lambda.mjs) so the function ships without node_modules and starts cold fast.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

// The Lambda's cold start is mostly parsing and evaluating its bundle. `import { z } from 'zod'`
// is a namespace of all of zod (every locale, JSON Schema conversion, codecs: ~450 KiB minified)
// that no bundler can tree-shake, so the Lambda bundle gets a `z` holding only the schema
// builders below, from zod's own modules (the instance methods, .default(), .strict() and the
// English messages come with them). A builder used by a bundled file of src/ but missing here
// fails the build (checked below), never the function at run time.
const zodBuilders = [
  'object', 'strictObject', 'array', 'tuple', 'record', 'string', 'number', 'int', 'boolean', 'literal',
  'enum', 'union', 'discriminatedUnion', 'optional', 'nullable', 'unknown', 'url',
];
const zodDir = dirname(createRequire(import.meta.url).resolve('zod/package.json'));
const zodSubset = {
  name: 'zod-subset',
  setup(b) {
    b.onResolve({ filter: /^zod$/ }, (args) =>
      args.importer.startsWith(`${root}src`) ? { path: 'zod', namespace: 'zod-subset' } : undefined,
    );
    b.onResolve({ filter: /^zod-builders$/ }, () => ({ path: 'zod-builders', namespace: 'zod-subset' }));
    b.onLoad({ filter: /^zod$/, namespace: 'zod-subset' }, () => ({ contents: "export * as z from 'zod-builders';", resolveDir: root }));
    b.onLoad({ filter: /^zod-builders$/, namespace: 'zod-subset' }, () => ({
      contents:
        `export { ${zodBuilders.join(', ')} } from ${JSON.stringify(join(zodDir, 'v4/classic/schemas.js'))};\n` +
        `export { prettifyError } from ${JSON.stringify(join(zodDir, 'v4/core/errors.js'))};\n`,
      resolveDir: root,
    }));
  },
};
execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.build.json`], {
  stdio: 'inherit',
});
// Two single-file bundles: the healer (dist/lambda.mjs) and the observer the construct runs per
// Availability Zone (dist/observer.mjs, src/observer/handler.ts).
const bundles = [
  { entry: 'src/lambda/handler.ts', out: 'dist/lambda.mjs' },
  { entry: 'src/observer/handler.ts', out: 'dist/observer.mjs' },
];
for (const { entry, out } of bundles) {
  const bundled = await build({
    entryPoints: [`${root}${entry}`],
    outfile: `${root}${out}`,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    // ESM bundles of CommonJS dependencies need a real `require`.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'warning',
    plugins: [zodSubset],
    metafile: true,
    absWorkingDir: root,
    // Written below, after the check: a failed build leaves no half-working bundle behind.
    write: false,
  });
  // Types (erased) and prettifyError (exported beside the builders) are not builders.
  const notBuilders = new Set(['input', 'output', 'infer', 'prettifyError']);
  const missing = new Set();
  for (const file of Object.keys(bundled.metafile.inputs).filter((f) => f.startsWith('src/'))) {
    for (const [, name] of readFileSync(join(root, file), 'utf8').matchAll(/\bz\s*\.\s*([A-Za-z_$][\w$]*)/g)) {
      if (!notBuilders.has(name) && !zodBuilders.includes(name)) missing.add(`z.${name} (${file})`);
    }
  }
  if (missing.size > 0) {
    console.error(`${out}: add to zodBuilders in scripts/build.mjs: ${[...missing].join(', ')}`);
    process.exit(1);
  }
  for (const file of bundled.outputFiles) writeFileSync(file.path, file.contents);
}
