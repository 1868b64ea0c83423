/**
 * The reaper: one small process per local group whose only job is that no instance outlives
 * the group's process, even when that process is SIGKILLed.
 *
 * Why a separate process: an instance cannot be trusted to notice that its parent died. The
 * built-in server watches its stdin, but a frozen (SIGSTOPped) one watches nothing, and a
 * user's `--command` watches nothing at all. The reaper runs in its own session (no terminal
 * signal reaches it, and a freeze injected into an instance's process group does not touch it);
 * the group writes it one line per instance process group, `+PGID` when it spawns one and
 * `-PGID` once it is gone. When its stdin ends (the group closed it, or the group's process
 * died and the kernel closed it) or its parent changes, it sends SIGKILL to every process group
 * still listed (SIGKILL ends a stopped process too) and exits.
 *
 * The window it cannot cover: a process spawned in the instant between `spawn()` and the `+PGID`
 * line reaching the pipe (written at once, without yielding to the event loop).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** How often the reaper also checks that its parent is still the process that started it. */
const parentCheckMs = 500;

/** How many times a reaper that exited on its own is started again. */
const maxRestarts = 5;

/**
 * The reaper's own loop, in the reaper process: reads `+PGID` / `-PGID` lines from `input`,
 * kills what is listed when `input` ends or the parent changes, then exits.
 */
export function runReaper(input: NodeJS.ReadableStream = process.stdin): void {
  const groups = new Set<number>();
  let pending = '';
  let reaped = false;
  const reap = (): void => {
    if (reaped) return;
    reaped = true;
    for (const pgid of groups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // ESRCH: that group is gone already.
      }
    }
    process.exit(0);
  };
  input.setEncoding('utf8');
  input.on('data', (chunk: string) => {
    pending += chunk;
    for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + 1);
      const pgid = Number(line.slice(1));
      // Never 0, 1 or a negative number: kill(-1) would signal every process we may signal.
      if (!Number.isSafeInteger(pgid) || pgid <= 1) continue;
      if (line.startsWith('+')) groups.add(pgid);
      else if (line.startsWith('-')) groups.delete(pgid);
    }
  });
  input.on('end', reap);
  input.on('close', reap);
  input.on('error', reap);
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) reap();
  }, parentCheckMs).unref();
}

/** The command line of the reaper, run from source (tsx) or from dist, like the built-in instance. */
function reaperCommand(): { file: string; args: string[] } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    return { file: process.execPath, args: ['--import', 'tsx', fileURLToPath(new URL('./reaper-main.ts', here))] };
  }
  return { file: process.execPath, args: [fileURLToPath(new URL('./reaper-main.js', here))] };
}

/** The group's side of the reaper: start it, list and unlist process groups, close it. */
export class Reaper {
  private child: ChildProcess | undefined;
  private readonly listed = new Set<number>();
  private closed = false;
  private restarts = 0;

  /**
   * @param on.started called with the pid of each reaper process started.
   * @param on.exited called when the reaper exits while it should still be running.
   * @param on.failed called when the reaper process cannot be started at all.
   */
  constructor(
    private readonly on: {
      started?: (pid: number) => void;
      exited?: (code: number | null, signal: NodeJS.Signals | null) => void;
      failed?: (error: Error) => void;
    } = {},
  ) {}

  /** The reaper's pid, while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Lists a process group: it is killed if this process dies. Starts the reaper on first use. */
  add(pgid: number): void {
    if (this.closed) return;
    this.listed.add(pgid);
    this.write(`+${pgid}\n`);
  }

  /** Unlists a process group that is gone, so that its id, once reused, is never signalled. */
  remove(pgid: number): void {
    if (!this.listed.delete(pgid) || this.closed) return;
    this.write(`-${pgid}\n`);
  }

  /** Ends the reaper: it kills whatever is still listed (normally nothing) and exits. */
  close(): void {
    this.closed = true;
    this.child?.stdin?.end();
  }

  private write(line: string): void {
    this.start().stdin?.write(line);
  }

  private start(): ChildProcess {
    if (this.child) return this.child;
    const { file, args } = reaperCommand();
    // Its own session (detached): no Ctrl-C or hang-up from the terminal reaches it.
    const child = spawn(file, args, { detached: true, stdio: ['pipe', 'ignore', 'inherit'] });
    this.child = child;
    child.stdin?.on('error', () => {});
    child.once('error', (error) => this.on.failed?.(error));
    if (child.pid !== undefined) this.on.started?.(child.pid);
    child.once('exit', (code, signal) => {
      this.child = undefined;
      if (this.closed) return;
      this.on.exited?.(code, signal);
      // Killed by someone else while the group runs: start another and list again what is live
      // (a few times at most, so that a reaper that cannot start does not spin).
      if (this.listed.size > 0 && this.restarts++ < maxRestarts) {
        this.write(`${[...this.listed].map((pgid) => `+${pgid}`).join('\n')}\n`);
      }
    });
    return child;
  }
}
