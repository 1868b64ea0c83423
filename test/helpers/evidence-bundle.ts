/**
 * The built evidence function (dist/evidence.mjs, `npm run build` first) as Lambda runs it: alone
 * in a folder, imported by a fresh Node process per event, its environment the stack's plus the
 * test's endpoints. `invoke` resolves with the process's exit code, what the handler returned, and
 * stderr (where an init error shows).
 *
 *   const bundle = evidenceBundle();
 *   const run = await bundle.invoke(event, { ...moto.env, AUTOHEAL_EVIDENCE_BUCKET: 'b' });
 *   bundle.remove();
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface EvidenceRun<R> {
  code: number | null;
  result?: R;
  stderr: string;
}

export interface EvidenceBundle {
  invoke<R = unknown>(event: unknown, env: Record<string, string>): Promise<EvidenceRun<R>>;
  remove(): void;
}

const root = fileURLToPath(new URL('../../', import.meta.url));

export function evidenceBundle(): EvidenceBundle {
  if (!existsSync(join(root, 'dist/evidence.mjs'))) throw new Error('dist/evidence.mjs not found: run "npm run build" first');
  const dir = mkdtempSync(join(tmpdir(), 'autoheal-evidence-bundle-'));
  copyFileSync(join(root, 'dist/evidence.mjs'), join(dir, 'evidence.mjs'));
  writeFileSync(join(dir, 'invoke.mjs'), "const { handler } = await import('./evidence.mjs');\nprocess.stdout.write('\\nRESULT ' + JSON.stringify(await handler(JSON.parse(process.env.TEST_EVENT))) + '\\n');\n");
  return {
    invoke: <R>(event: unknown, env: Record<string, string>) =>
      new Promise<EvidenceRun<R>>((resolve, reject) => {
        const child = spawn(process.execPath, ['invoke.mjs'], { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env, TEST_EVENT: JSON.stringify(event) }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.once('error', reject);
        child.once('close', (code) => {
          const line = /\nRESULT (.*)\n/.exec(stdout)?.[1];
          resolve({ code, stderr, ...(line ? { result: JSON.parse(line) as R } : {}) });
        });
      }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
