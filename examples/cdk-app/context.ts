/**
 * The example app's context (`-c KEY=VALUE`): the keys it reads, and the refusal of any other key
 * of its own, naming the nearest one it knows, so a typo stops the synth instead of being ignored.
 */

/** The context keys this app reads (`-c KEY=VALUE`). */
export const contextKeys = [
  'group',
  'email',
  'detection',
  'alarmMode',
  'maxUnhealthyShare',
  'dryRun',
  'legacyQueue',
  'stackName',
  'bundleDir',
  'subnets',
  'probePort',
  'vpc',
  'instanceSecurityGroup',
  'quarantine',
  'replacement',
  'retainAtMost',
] as const;

/**
 * Keys that CDK and its CLI put in context are theirs, not this app's: feature flags
 * (`@aws-cdk/core:…`), `aws:cdk:…` and `aws-cdk:…` settings, lookups cached in cdk.context.json
 * (`availability-zones:account=…:region=…`), and the CLI's own plain keys.
 */
function isCdkKey(key: string): boolean {
  return key.startsWith('@') || key.includes(':') || key === 'acknowledged-issue-numbers' || key === 'cli-telemetry';
}

/** A key as compared: case, `-` and `_` do not count (`dryrun` and `dry-run` are `dryRun`). */
const normal = (key: string): string => key.toLowerCase().replace(/[-_]/g, '');

/** Edit distance (Levenshtein) between two normalized keys. */
function distance(x: string, y: string): number {
  let row = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const next = [i];
    for (let j = 1; j <= y.length; j++) {
      next[j] = Math.min((row[j] as number) + 1, (next[j - 1] as number) + 1, (row[j - 1] as number) + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[y.length] as number;
}

/**
 * The known key nearest to `key`: one that contains it (`mode`: `alarmMode`), else one it contains
 * (`notificationEmail`: `email`), else the fewest edits (`emial`: `email`).
 */
function nearestKey(key: string): string {
  const k = normal(key);
  const score = (known: string): number => {
    const n = normal(known);
    if (n.includes(k)) return n.length - k.length - 2_000;
    if (k.includes(n)) return k.length - n.length - 1_000;
    return distance(k, n);
  };
  return [...contextKeys].sort((a, b) => score(a) - score(b))[0] as string;
}

/**
 * Fail closed: a context key the app does not know is a mistake (`-c dryrun=true` would otherwise
 * deploy a live healer), so the synth stops and names the nearest key it knows.
 */
export function unknownContextKeys(context: Record<string, unknown>): string[] {
  return Object.keys(context)
    .filter((key) => !isCdkKey(key) && !(contextKeys as readonly string[]).includes(key))
    .map((key) => `-c ${key}: not a setting of this app; did you mean -c ${nearestKey(key)}?`);
}

/** One of the keys the app reads. */
export type ContextKey = (typeof contextKeys)[number];
