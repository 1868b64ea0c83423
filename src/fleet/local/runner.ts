/**
 * The local group's processes, as its shell carries out the machine's effects on them: a port
 * found, a process spawned (and listed with the reaper before anything else happens), its port
 * watched, its output read into the ring of its last lines, signals sent. What happens comes back
 * to the shell as machine events through `report`.
 */
import { describeError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Clock } from './clock.js';
import type { GroupEvent } from './machine.js';
import type { LocalGroupOptions } from './options.js';
import { OutputRing } from './output.js';
import { watchPort, type ProcessDriver, type StartedProcess } from './processes.js';
import { Reaper } from './reaper.js';

export class InstanceRunner {
  private readonly processes = new Map<string, StartedProcess>();
  private readonly outputs = new Map<string, OutputRing>();
  private readonly reaper: Reaper;

  constructor(
    private readonly driver: ProcessDriver,
    private readonly clock: Clock,
    private readonly settings: Pick<LocalGroupOptions, 'command' | 'env' | 'healthPath' | 'outputLines'>,
    private readonly report: (event: GroupEvent) => void,
    logger: Logger,
    onReaperStarted: (pid: number) => void,
  ) {
    this.reaper = new Reaper({
      started: onReaperStarted,
      exited: (code, signal) =>
        logger.warn({ code, signal }, 'local group: the reaper exited; starting another so that no instance can outlive this process'),
      failed: (error) =>
        logger.warn({ error: describeError(error) }, 'local group: the reaper could not start; instances may outlive this process if it is killed'),
    });
  }

  /** The reaper's pid while it runs (it starts with the first instance). */
  get reaperPid(): number | undefined {
    return this.reaper.pid;
  }

  /** A free port not in `used`, after this launch's turn to spawn: reported as `portAllocated`. */
  async allocate(instanceId: string, used: ReadonlySet<number>): Promise<void> {
    try {
      const port = await this.driver.freePort(used);
      await this.driver.turn();
      this.report({ type: 'portAllocated', instanceId, port });
    } catch (error) {
      this.report({ type: 'launchFailed', instanceId, error: describeError(error) });
    }
  }

  /** Starts the instance's process on `port`: reported as `spawned`, and later `exited`, or as `launchFailed`. */
  spawn(instanceId: string, port: number, zone: string | undefined): void {
    const ring = new OutputRing(this.settings.outputLines);
    this.outputs.set(instanceId, ring);
    const env = {
      ...this.settings.env,
      PORT: String(port),
      AUTOHEAL_INSTANCE_ID: instanceId,
      AUTOHEAL_HEALTH_PATH: this.settings.healthPath,
      ...(zone !== undefined ? { AUTOHEAL_AVAILABILITY_ZONE: zone } : {}),
    };
    let child: StartedProcess;
    try {
      child = this.driver.start(
        { ...(this.settings.command ? { command: this.settings.command } : {}), env },
        {
          output: (stream, chunk) => ring.write(stream, chunk),
          exit: (code, signal) => {
            ring.end();
            this.report({ type: 'exited', instanceId, exit: { code, signal } });
          },
          error: (error) => this.report({ type: 'launchFailed', instanceId, error: describeError(error) }),
        },
      );
    } catch (error) {
      return this.report({ type: 'launchFailed', instanceId, error: describeError(error) });
    }
    this.processes.set(instanceId, child);
    // A spawn that failed outright has no pid: its 'error' reports it.
    if (child.pid === undefined) return;
    // Listed before anything else can happen: from now on it dies with this process.
    this.reaper.add(child.pid);
    this.report({ type: 'spawned', instanceId, pid: child.pid });
  }

  /** Tries the port while `waiting()`: reported as `portAnswered`. */
  async watch(instanceId: string, port: number, waiting: () => boolean): Promise<void> {
    if (await watchPort(this.driver, this.clock, port, waiting)) this.report({ type: 'portAnswered', instanceId });
  }

  /** SIGCONT (a frozen process cannot act on SIGTERM), SIGTERM, and its stdin closed. */
  terminate(instanceId: string, pid: number): void {
    this.driver.signalGroup(pid, 'SIGCONT');
    this.driver.signalGroup(pid, 'SIGTERM');
    this.processes.get(instanceId)?.closeInput();
  }

  kill(pid: number): void {
    this.driver.signalGroup(pid, 'SIGKILL');
  }

  /** The leader is gone; take whatever it left in its process group with it, and unlist it. */
  reap(pid: number): void {
    this.driver.signalGroup(pid, 'SIGKILL');
    this.reaper.remove(pid);
  }

  /** The instance's last output lines, oldest first (a line not yet ended counts once the process is gone). */
  outputOf(instanceId: string): string[] {
    return this.outputs.get(instanceId)?.lines() ?? [];
  }

  /** The group forgot the instance. */
  forget(instanceId: string): void {
    this.outputs.delete(instanceId);
    this.processes.delete(instanceId);
  }

  /** Ends the reaper: every process is gone, or is being killed. */
  close(): void {
    this.reaper.close();
  }
}
