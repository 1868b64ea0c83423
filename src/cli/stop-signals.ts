/**
 * How a long-running command owns SIGTERM and SIGINT: the first signal drains (stop taking work;
 * each command bounds what becomes of work in flight), a second one forces an exit at once. The
 * bridge, the prober and the demo all keep this rule; it lives here once.
 */
import { ExitCode } from './exit-codes.js';

/** The part of `process` the rule needs; tests pass an EventEmitter with an `exit` spy. */
export interface ProcessHooks {
  on(event: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
}

export const processHooks: ProcessHooks = {
  on: (event, listener) => process.on(event, listener),
  off: (event, listener) => process.off(event, listener),
  exit: (code) => process.exit(code),
};

/** What to do on the first signal, and just before the forced exit on the second. */
export interface StopHandlers {
  drain(signal: NodeJS.Signals): void;
  force?(signal: NodeJS.Signals): void;
}

/** Installs the rule; returns the function that removes it (call it once the work has ended). */
export function onStopSignals(handlers: StopHandlers, hooks: ProcessHooks = processHooks): () => void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    received++;
    if (received === 1) {
      handlers.drain(signal);
      return;
    }
    handlers.force?.(signal);
    hooks.exit(ExitCode.noResult);
  };
  hooks.on('SIGTERM', onSignal);
  hooks.on('SIGINT', onSignal);
  return () => {
    hooks.off('SIGTERM', onSignal);
    hooks.off('SIGINT', onSignal);
  };
}
