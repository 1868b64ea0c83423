/** `autoheal/cdk`: the CDK construct that deploys autoheal. aws-cdk-lib and constructs are peer dependencies. */
export { AutoHeal } from './auto-heal.js';
export type { AlarmSettings, AutoHealProps, Detection, LegacyQueueSettings, OptInTag, ProbeSettings, RailSettings } from './props.js';
export type { ObserverSubnet, ObserversSettings } from './observer-settings.js';
