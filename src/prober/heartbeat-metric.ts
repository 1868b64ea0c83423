/**
 * The heartbeat's name, the contract between the observers that publish it and the readers
 * (`autoheal status`, the stack's alarms, the healer's silent-observer notice). Its own module, with
 * no SDK import, so the Lambda healer can recognise a heartbeat alarm without loading CloudWatch.
 */
export const heartbeatMetric = {
  namespace: 'autoheal',
  name: 'ObserverHeartbeat',
  degradedName: 'ObserverDegraded',
  dimension: 'Observer',
} as const;
