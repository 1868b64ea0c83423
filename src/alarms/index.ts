/** The alarm manager: per-instance StatusCheckFailed alarms that follow their groups. */
export * from './options.js';
export * from './manager.js';
export * from './env.js';
export * from './states.js';
export * from './groups.js';
export * from './reconcile.js';
