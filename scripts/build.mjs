// Builds dist/: the library and CLI with tsc, and the Lambda handler as one esbuild bundle
// (dist/lambda.mjs) so the function ships without node_modules and starts cold fast, and for the
// Terraform module the same bundles zipped (dist/lambda.zip, lambda.mjs at its root; dist/observer.zip,
// observer.mjs; dist/alarm-sync.zip, alarm-sync.mjs; dist/evidence.zip, evidence.mjs; dist/group-settings.zip,
// group-settings.mjs) and the legacy queue's intake (dist/intake.zip, index.js: the construct's inline
// intakeHandlerSource).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { strToU8, zipSync } from 'fflate';

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
// Single-file bundles: the healer (dist/lambda.mjs), the observer the construct runs per
// Availability Zone (dist/observer.mjs, src/observer/handler.ts), the alarm sync, a function
// of its own so no decision waits behind it (dist/alarm-sync.mjs, src/lambda/alarm-sync.ts), the evidence
// function that holds a marked instance's termination (dist/evidence.mjs, src/evidence/handler.ts), the
// deploy-time group settings function (dist/group-settings.mjs, src/group-settings/handler.ts), and the
// reader of AWS's application status check (dist/app-check.mjs, src/app-check/handler.ts).
const bundles = [
  { entry: 'src/lambda/handler.ts', out: 'dist/lambda.mjs' },
  { entry: 'src/observer/handler.ts', out: 'dist/observer.mjs' },
  { entry: 'src/lambda/alarm-sync.ts', out: 'dist/alarm-sync.mjs' },
  { entry: 'src/evidence/handler.ts', out: 'dist/evidence.mjs' },
  { entry: 'src/group-settings/handler.ts', out: 'dist/group-settings.mjs' },
  { entry: 'src/app-check/handler.ts', out: 'dist/app-check.mjs' },
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
    // Short lines: an error at init prints its source line before its message, and a minified
    // line of 100 KiB filled the 64 KiB a piped stderr holds at exit (Node 22), hiding the message.
    lineLimit: 500,
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
// The archive the Terraform module deploys. A fixed mtime (the zip format's earliest date) and a
// fixed compression level make it byte-identical for the same bundle, so Terraform's
// source_code_hash changes only when the code does. Unix mode 0644, so Lambda can read the file.
const entry = { mtime: new Date(1980, 0, 1, 0, 0, 0), level: 9, os: 3, attrs: 0o100644 << 16 };
writeFileSync(join(root, 'dist/lambda.zip'), zipSync({ 'lambda.mjs': [readFileSync(join(root, 'dist/lambda.mjs')), entry] }));
// The observers' archive (probe.subnets in the module), observer.mjs at its root as the construct deploys it.
writeFileSync(join(root, 'dist/observer.zip'), zipSync({ 'observer.mjs': [readFileSync(join(root, 'dist/observer.mjs')), entry] }));
// The alarm sync's archive, alarm-sync.mjs at its root as the construct deploys it.
writeFileSync(join(root, 'dist/alarm-sync.zip'), zipSync({ 'alarm-sync.mjs': [readFileSync(join(root, 'dist/alarm-sync.mjs')), entry] }));
// The evidence function's archive (quarantine in the module), evidence.mjs at its root.
writeFileSync(join(root, 'dist/evidence.zip'), zipSync({ 'evidence.mjs': [readFileSync(join(root, 'dist/evidence.mjs')), entry] }));
// The group settings function's archive (replacement in the module), group-settings.mjs at its root.
writeFileSync(join(root, 'dist/group-settings.zip'), zipSync({ 'group-settings.mjs': [readFileSync(join(root, 'dist/group-settings.mjs')), entry] }));
// The app-check function's archive (detection app-checks in the module), app-check.mjs at its root.
writeFileSync(join(root, 'dist/app-check.zip'), zipSync({ 'app-check.mjs': [readFileSync(join(root, 'dist/app-check.mjs')), entry] }));
// The intake's code is the construct's inline source, read from the library tsc just compiled, so
// the two deployments run the same text; index.js, CommonJS, as Lambda runs inline code.
const { intakeHandlerSource } = await import(pathToFileURL(join(root, 'dist/cdk/cleanup-handler.js')).href);
writeFileSync(join(root, 'dist/intake.zip'), zipSync({ 'index.js': [strToU8(intakeHandlerSource), entry] }));
