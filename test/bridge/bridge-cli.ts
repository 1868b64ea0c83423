/**
 * Runs the built CLI's `autoheal bridge …` as a child process (`npm run build` first) and reads
 * its JSON log lines as they come, for the bridge's CLI tests and its soak benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));

export interface BridgeRun {
  child: ChildProcess;
  /** stderr JSON log lines so far (a line that is not JSON as `{ text }`). */
  logs: Array<Record<string, unknown>>;
  stdout: () => string;
  /** The exit code; null when killed by a signal. */
  exit: Promise<number | null>;
}

/** Throws with what to do when the CLI was not built. */
export function requireBuiltCli(): void {
  if (!existsSync(`${root}dist/cli/commands/bridge.js`)) throw new Error('run `npm run build` first: this test runs the built CLI');
}

/** `autoheal bridge ...args` with this environment over the test's own (AWS profile and SQS endpoint cleared). */
export function runBridgeCli(args: readonly string[], env: Record<string, string>, children?: ChildProcess[]): BridgeRun {
  const child = spawn(process.execPath, [`${root}bin/autoheal.js`, 'bridge', ...args], {
    cwd: root,
    env: { ...process.env, AWS_ENDPOINT_URL_SQS: '', AWS_PROFILE: '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let out = '';
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ text: line });
      }
    }
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  children?.push(child);
  return { child, logs, stdout: () => out, exit };
}
