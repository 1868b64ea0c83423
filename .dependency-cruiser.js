/**
 * The layering of src/, as DESIGN.md draws it, checked by `npm run layers` (part of `npm test`).
 * Layers are listed from the ground up; a file may import its own layer and the layers below it,
 * never one above. Layers are folders, not files, so rooms can move inside a folder freely.
 * Beside the order: no cycle of files or of folders, and the pure core imports no I/O.
 */

/** Ground first. `why` is the one line that says why the layer stands where it does. */
const layers = [
  {
    name: 'base',
    path: '^src/(errors|env|deadline|backoff|events|log|concurrency)\\.ts$',
    why: 'primitives every room uses (the error family, deadlines, backoff, events, logs); they know nothing of the pipeline',
  },
  {
    name: 'wing',
    path: '^src/aws/',
    why: 'one module per AWS service: it knows AWS and nothing of autoheal, so every room above may call AWS only through it',
  },
  {
    name: 'signals',
    path: '^src/signals/',
    why: 'evidence becomes signals first: the parsers need nothing but the primitives',
  },
  {
    name: 'fleet',
    path: '^src/fleet/',
    why: 'the port to whatever runs the instances (the vocabulary policy decides over) and its two implementations; below the policy and the healer that use it',
  },
  {
    name: 'policy',
    path: '^src/policy/',
    why: 'pure decisions over signals and fleet views',
  },
  {
    name: 'settings',
    path: '^src/config\\.ts$',
    why: 'flags > environment > defaults, written once over the policy options; every edge and root reads it',
  },
  {
    name: 'healer',
    path: '^src/healer/',
    why: 'the core loop: signal, verdict, remedy, through ports it is given',
  },
  {
    name: 'edges',
    path: '^src/(alarms|operate|prober|bridge)/',
    why: 'the edges around the core: alarms, notices and reports, observers, the queue consumer',
  },
  {
    name: 'roots',
    path: '^src/runtime/',
    why: 'composition roots: a healer built with its fleet and ports, once per runtime',
  },
  {
    name: 'entries',
    path: '^src/(lambda|observer|app-check|evidence|group-settings|drill|cli)/',
    why: 'processes: the Lambda handlers, the demo, the command line; they own the process and nothing imports them back',
  },
  {
    name: 'deploy',
    path: '^src/cdk/',
    why: 'the construct synthesizes what the entries run, so it reads their settings',
  },
  {
    name: 'surface',
    path: '^src/index\\.ts$',
    why: 'the public library surface hands on names from below',
  },
];

const upward = layers.slice(0, -1).map((layer, i) => ({
  name: `no-import-up-from-${layer.name}`,
  comment: `${layer.name} (${layer.why}) imports only ${layers.slice(0, i + 1).map((l) => l.name).join(', ')}`,
  severity: 'error',
  from: { path: layer.path },
  to: { path: layers.slice(i + 1).map((l) => l.path) },
}));

const unlayered = { path: '^src/', pathNot: layers.map((l) => l.path) };
const everyFile = [
  {
    name: 'every-file-in-a-layer',
    comment: 'a file of src/ outside every layer imports: add its folder to the layer it belongs to',
    severity: 'error',
    from: unlayered,
    to: {},
  },
  {
    name: 'every-import-into-a-layer',
    comment: 'an import of a file of src/ outside every layer: add its folder to the layer it belongs to',
    severity: 'error',
    from: { path: '^src/' },
    to: unlayered,
  },
];

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    ...upward,
    ...everyFile,
    {
      name: 'no-file-cycle',
      comment: 'files that import each other in a loop cannot be understood (or tested) one at a time',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-folder-cycle',
      comment: 'a loop of folders means two rooms are one in disguise: move what both need below both',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'pure-core',
      comment: 'signals, the fleet port and policy import no SDK, no I/O, no clock: only each other, the primitives and zod',
      severity: 'error',
      from: { path: ['^src/signals/', '^src/policy/', '^src/fleet/[^/]+\\.ts$'] },
      to: { dependencyTypesNot: ['local', 'type-only'], pathNot: '(^|/)node_modules/zod/' },
    },
    {
      name: 'core-without-aws',
      comment: 'the core decides through ports: the wing is for the edges, the roots and the entries',
      severity: 'error',
      from: { path: ['^src/signals/', '^src/policy/', '^src/fleet/[^/]+\\.ts$', '^src/healer/'] },
      to: { path: '^src/aws/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
