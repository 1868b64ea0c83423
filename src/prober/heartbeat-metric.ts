/**
 * The heartbeat's name, the contract between the observers that publish it and the readers
 * (`autoheal status`, the stack's alarms, the healer's silent-observer notice). Its own module, with
 * no SDK import, so the Lambda healer can recognise a heartbeat alarm without loading CloudWatch.
 */
export const heartbeatMetric = {
  namespace: 'autoheal',
  name: 'ObserverHeartbeat',
  degradedName: 'ObserverDegraded',
  /** Distinct targets checked since the last beat: 0 while its groups have InService instances is an observer probing nothing. */
  targetsName: 'ObserverTargets',
  /** Groups the observer cannot reach (none of their instances ever passed its check). */
  unreachableName: 'ObserverUnreachableGroups',
  /** The worst lateness of a check or of its loop since the last beat, in milliseconds: an observer falling behind. */
  latenessName: 'ObserverLatenessMs',
  /** 1 while its latest discovery of the groups failed, else 0. */
  discoveryFailedName: 'ObserverDiscoveryFailed',
  dimension: 'Observer',
} as const;
