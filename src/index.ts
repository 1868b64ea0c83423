/** The public library surface of autoheal. The CDK construct is at `autoheal/cdk`. */
export * from './signals/types.js';
export * from './policy/types.js';
export * from './fleet/port.js';
export * from './healer/types.js';
export * from './errors.js';
export { TypedEvents } from './events.js';
