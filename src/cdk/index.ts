/** `autoheal/cdk`: the CDK construct that deploys autoheal. aws-cdk-lib and constructs are peer dependencies. */
export { AutoHeal } from './auto-heal.js';
export type { AlarmSettings, AutoHealProps, Detection, LegacyQueueSettings, OptInTag, ProbeSettings } from './auto-heal.js';
