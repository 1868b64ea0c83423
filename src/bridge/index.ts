/** The bridge's public surface: start a bridge, and the targets and queue port it works with. */
export { startBridge } from './bridge.js';
export type { BridgeEvents, BridgeHandle, BridgeOptions, BridgeState, BridgeSummary, MessageEventBase } from './bridge.js';
export { bridgeDefaults, bridgeSettingsSchema, sqsLimits } from './options.js';
export type { BridgeSettings, BridgeSettingsInput } from './options.js';
export { SqsQueue } from './queue.js';
export type { DeleteFailure, QueueInfo, QueuePort, ReceiveRequest, ReceivedMessage } from './queue.js';
export { handlerTarget, healerTarget, lambdaTarget, toLambdaSqsRecord } from './targets.js';
export type { BridgeTarget, DeliveryContext, DeliveryOutcome, InvocationType, LambdaTargetOptions, PayloadFormat } from './targets.js';
export type { BridgeCounts, BridgeMetrics } from './metrics.js';
export type { BridgeClock } from './clock.js';
