/**
 * A temporary folder laid out as the Terraform module expects (deploy/terraform and the built
 * archives under dist/), with terraform set to use only the offline provider mirror
 * (/opt/tf-plugins: hashicorp/aws 5.100.0) through a plugin cache of its own: no registry, no
 * checkpoint call, no ~/.aws. terraform missing fails the test with how to get it, never skips.
 *
 *   const moto = await startMoto();
 *   const tf = terraformWorkspace({ prefix: 'autoheal-terraform-x-', archives: ['lambda.zip'], env: moto.env });
 *   const resources = await tf.planOf(await tf.rootWith('one', ['name = "x"']));
 *   …
 *   tf.cleanup();
 */
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface TerraformRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One resource of a plan's (or a state's) `planned_values`. */
export interface Planned {
  address: string;
  type: string;
  values: Record<string, unknown>;
}

export interface TerraformWorkspaceOptions {
  /** The temporary folder's name prefix, e.g. `autoheal-terraform-evidence-`. */
  prefix: string;
  /** The archives of dist/ to copy (each must be built). */
  archives: readonly string[];
  /** The repository's folders to copy, at the same paths (default deploy/terraform). */
  trees?: readonly string[];
  /** Added to terraform's environment: moto's endpoint and test credentials. */
  env?: Record<string, string>;
}

export interface TerraformWorkspace {
  /** The folder: deploy/terraform, dist/ and the roots made by rootWith. */
  work: string;
  /** Runs terraform in `cwd`, whatever its exit code. */
  run(cwd: string, args: string[]): Promise<TerraformRun>;
  /** Runs terraform in `cwd` and returns its stdout; a non-zero exit rejects with its output. */
  ok(cwd: string, args: string[]): Promise<string>;
  /** A root `name` calling the module with `hcl` (one line each), initialized. */
  rootWith(name: string, hcl: string[]): Promise<string>;
  /** Plans the root `dir` and returns the resources of its (first) module call. */
  planOf(dir: string): Promise<Planned[]>;
  /** Removes the folder. */
  cleanup(): void;
}

export function terraformWorkspace(options: TerraformWorkspaceOptions): TerraformWorkspace {
  // Checked before the folder exists, so that a missing build leaves nothing behind.
  for (const archive of options.archives) {
    if (!existsSync(join(repoRoot, 'dist', archive))) throw new Error(`dist/${archive} not found: run "npm run build" first (npm test does)`);
  }
  const work = mkdtempSync(join(tmpdir(), options.prefix));
  for (const tree of options.trees ?? ['deploy/terraform']) cpSync(join(repoRoot, tree), join(work, tree), { recursive: true, filter: (f) => !f.includes('.terraform') });
  mkdirSync(join(work, 'dist'));
  for (const archive of options.archives) copyFileSync(join(repoRoot, 'dist', archive), join(work, 'dist', archive));
  writeFileSync(join(work, 'terraform.rc'), 'provider_installation {\n  filesystem_mirror {\n    path    = "/opt/tf-plugins"\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n}\n');
  mkdirSync(join(work, 'plugin-cache'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: work,
    TF_CLI_CONFIG_FILE: join(work, 'terraform.rc'),
    TF_PLUGIN_CACHE_DIR: join(work, 'plugin-cache'),
    TF_IN_AUTOMATION: '1',
    CHECKPOINT_DISABLE: '1',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...options.env,
  };

  const run = (cwd: string, args: string[]): Promise<TerraformRun> =>
    new Promise((resolve, reject) => {
      const child = spawn('terraform', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.once('error', (error) => reject(new Error(`cannot run terraform (${error.message}); install Terraform >= 1.9 (it is on the project's machines)`)));
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });

  const ok = async (cwd: string, args: string[]): Promise<string> => {
    const done = await run(cwd, args);
    if (done.code !== 0) throw new Error(`terraform ${args.join(' ')} failed (${done.code}):\n${done.stderr}\n${done.stdout.slice(-4_000)}`);
    return done.stdout;
  };

  const rootWith = async (name: string, hcl: string[]): Promise<string> => {
    const dir = join(work, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'main.tf'), `provider "aws" {}\nmodule "m" {\n  source = "../deploy/terraform"\n  ${hcl.join('\n  ')}\n}\n`);
    await ok(dir, ['init', '-input=false', '-no-color', '-backend=false']);
    return dir;
  };

  const planOf = async (dir: string): Promise<Planned[]> => {
    await ok(dir, ['plan', '-input=false', '-no-color', '-lock=false', '-refresh=false', '-out=plan.bin']);
    const plan = JSON.parse(await ok(dir, ['show', '-json', 'plan.bin'])) as { planned_values: { root_module: { child_modules: Array<{ resources: Planned[] }> } } };
    return plan.planned_values.root_module.child_modules[0]?.resources ?? [];
  };

  return { work, run, ok, rootWith, planOf, cleanup: () => rmSync(work, { recursive: true, force: true }) };
}
