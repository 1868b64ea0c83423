/**
 * How a local group runs its instances' processes: the only file of the group that spawns,
 * connects or signals. The shell (local-group.ts) calls it as the machine's effects say; tests
 * of the shell pass a fake {@link ProcessDriver} and drive time with fake timers.
 */
import { spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { sleep, type Clock } from './clock.js';
import { loopbackHost } from './machine.js';

/** What to run: the built-in instance server, or the user's `command` through /bin/sh. */
export interface ProcessSpec {
  command?: string;
  /** Added to this process's environment (PORT, AUTOHEAL_INSTANCE_ID, …). */
  env: Record<string, string>;
}

/** What the shell hears from a process. */
export interface ProcessHooks {
  output(stream: 'stdout' | 'stderr', chunk: string): void;
  /** It exited; called once its output is read (or after {@link outputDrainMs}). */
  exit(code: number | null, signal: NodeJS.Signals | null): void;
  /** It could not be started (no pid then, and no exit), or failed after it started. */
  error(error: Error): void;
}

export interface StartedProcess {
  /** Undefined when the spawn failed outright (an `error` follows). */
  readonly pid: number | undefined;
  /** Ends its stdin: the built-in server exits when it closes. */
  closeInput(): void;
}

export interface ProcessDriver {
  /** A free loopback port, not one of `avoid`. */
  freePort(avoid: ReadonlySet<number>): Promise<number>;
  /**
   * Resolves when this launch may spawn: one spawn per turn of the event loop. spawn() blocks
   * for 10–100 ms on a busy machine; thirty in one go would keep a Ctrl-C from being handled
   * (and the group from stopping the rest) for seconds.
   */
  turn(): Promise<void>;
  /** Starts the process, leading its own process group. */
  start(spec: ProcessSpec, hooks: ProcessHooks): StartedProcess;
  /** Whether something accepts connections on the loopback port within `timeoutMs`. */
  portAnswers(port: number, timeoutMs: number): Promise<boolean>;
  /** Sends `signal` to the process group `pid` leads; a group gone already is fine. */
  signalGroup(pid: number, signal: NodeJS.Signals): void;
}

/**
 * How long an exit waits for the rest of the process's output. Node may report the exit before
 * it read the last lines from the pipes; a process that left children holding them open would
 * keep them open forever, hence the bound.
 */
export const outputDrainMs = 100;

/** The command line of the built-in instance server, run from source (tsx) or from dist. */
function builtInCommand(): { file: string; args: string[] } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    return { file: process.execPath, args: ['--import', 'tsx', fileURLToPath(new URL('./instance-main.ts', here))] };
  }
  return { file: process.execPath, args: [fileURLToPath(new URL('./instance-main.js', here))] };
}

function osPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, loopbackHost, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function portAnswers(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: loopbackHost, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: nothing left to signal.
  }
}

/** Resolves when the stream has ended (or never existed). */
function ended(stream: NodeJS.ReadableStream | null): Promise<void> {
  if (stream === null || (stream as { readableEnded?: boolean }).readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
  });
}

/**
 * Real child processes. Each leads its own process group (detached), so that signals reach a
 * command's children too; its stdin stays a pipe the built-in server watches, so it exits with
 * this process even if this one is SIGKILLed. Its stdout and stderr are read into the shell's
 * ring of last lines; stderr is also passed on to this process's stderr, as it always was.
 */
export function systemProcesses(clock: Clock): ProcessDriver {
  let spawnQueue: Promise<void> = Promise.resolve();
  return {
    async freePort(avoid) {
      let port = await osPort();
      for (let tries = 0; avoid.has(port) && tries < 5; tries++) port = await osPort();
      return port;
    },
    turn() {
      spawnQueue = spawnQueue.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
      return spawnQueue;
    },
    start(spec, hooks) {
      const { file, args } = spec.command ? { file: '/bin/sh', args: ['-c', spec.command] } : builtInCommand();
      const child = spawn(file, args, { env: { ...process.env, ...spec.env }, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
      child.stdin?.on('error', () => {});
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => hooks.output('stdout', chunk));
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        hooks.output('stderr', chunk);
        process.stderr.write(chunk);
      });
      child.once('error', (error) => hooks.error(error));
      child.once('exit', (code, signal) => {
        let reported = false;
        const report = (): void => {
          if (reported) return;
          reported = true;
          cancel();
          hooks.exit(code, signal);
        };
        const cancel = clock.after(outputDrainMs, report);
        void Promise.all([ended(child.stdout), ended(child.stderr)]).then(report);
      });
      return { pid: child.pid, closeInput: () => child.stdin?.end() };
    },
    portAnswers,
    signalGroup,
  };
}

/** Waits between two tries of a port that does not answer yet. */
export const portRetryMs = 20;

/** Tries the port until it answers or `waiting()` turns false; resolves whether it answered. */
export async function watchPort(driver: ProcessDriver, clock: Clock, port: number, waiting: () => boolean): Promise<boolean> {
  while (waiting()) {
    if (await driver.portAnswers(port, 500)) return waiting();
    await sleep(clock, portRetryMs);
  }
  return false;
}
