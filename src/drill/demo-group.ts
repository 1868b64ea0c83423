/**
 * The demo's local group: started with the demo's settings, every launch listed (so a caller can
 * check that none outlives the demo), and a failure to start turned into the demo's own error,
 * since the group alone would retry a broken `--command` forever.
 */
import { ConfigError } from '../errors.js';
import { LocalGroup } from '../fleet/local/local-group.js';
import type { DemoOptions } from './demo-options.js';
import type { DemoInstance } from './demo-result.js';
import type { DemoRun } from './demo-run.js';

/** How many of a failed instance's last lines its start-up error quotes. */
const quotedLines = 3;

/**
 * What the demo says when an instance could not start: which instance, what ran, what happened,
 * what it said last, and what a `--command` must do.
 */
export function startFailure(options: DemoOptions, instanceId: string, error: string, lastOutput: readonly string[] = []): ConfigError {
  const what = options.command ? `--command ${JSON.stringify(options.command)}` : 'the built-in instance server';
  const said = lastOutput.length > 0 ? ` (its last output: ${lastOutput.slice(-quotedLines).join(' | ')})` : '';
  const hint = options.command ? '; the command must serve HTTP on 127.0.0.1:$PORT' : '';
  return new ConfigError(`the demo's instances could not start: ${what} (instance ${instanceId}) ${error}${said}${hint}`);
}

export interface DemoGroup {
  group: LocalGroup;
  /** Resolves once the group first stands; rejects at once when an instance fails to start. */
  started(): Promise<void>;
}

/** Starts the group; its stop is on the run's clean-ups. */
export function startDemoGroup(run: DemoRun, launched: DemoInstance[]): DemoGroup {
  const { options, logger, cleanups } = run;
  const group = new LocalGroup(
    {
      name: 'autoheal-demo',
      desiredCapacity: options.instances,
      exitNoticeDelayMs: options.exitNoticeMs,
      shutdownDelayMs: options.shutdownMs,
      stopTimeoutMs: 1_000,
      startTimeoutMs: options.startTimeoutMs,
      zones: options.zones,
      ...(options.command ? { command: options.command } : {}),
    },
    { logger },
  );
  cleanups.push(() => group.stop());
  group.events.on('group:reaper:started', (e) => logger.info({ pid: e.pid }, 'demo: reaper started'));
  // Until the group first settles, a launch failure ends the demo (the group would retry forever).
  let rejectStart!: (error: Error) => void;
  const startFailed = new Promise<never>((_resolve, reject) => (rejectStart = reject));
  startFailed.catch(() => {});
  const offStartFailure = group.events.on('group:launch:failed', (e) =>
    rejectStart(startFailure(options, e.instanceId, e.error, group.outputOf(e.instanceId))),
  );
  cleanups.push(offStartFailure);
  group.events.on('group:instance:launched', (e) => {
    const zone = e.availabilityZone !== undefined ? { availabilityZone: e.availabilityZone } : {};
    launched.push({ instanceId: e.instanceId, pid: e.pid, port: e.port, ...(e.replaces ? { replaces: e.replaces } : {}), ...zone });
    logger.info({ instanceId: e.instanceId, pid: e.pid, port: e.port, ...zone }, 'demo: instance launched');
  });
  const killOnExit = (): void => group.killNow();
  process.once('exit', killOnExit);
  cleanups.push(() => process.off('exit', killOnExit));
  run.signal?.throwIfAborted();
  group.start();
  const started = async (): Promise<void> => {
    // The wait ends with the race: its timer must not keep the process alive once start-up failed.
    const settling = new AbortController();
    try {
      const signal = run.signal ? AbortSignal.any([run.signal, settling.signal]) : settling.signal;
      await Promise.race([group.whenSettled(30_000, signal), startFailed]);
    } finally {
      settling.abort();
    }
    offStartFailure();
  };
  return { group, started };
}
