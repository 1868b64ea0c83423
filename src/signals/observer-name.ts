/**
 * An observer's name: what the healer's quorum counts, what an observer signs its verdicts with,
 * the `Observer` dimension of its heartbeat and the key of its lease. One grammar for every side —
 * `autoheal probe --observer`, the observer Lambda, the construct and the module, the verdict
 * envelope and the alarm messages the parsers read — so a name one side accepts is never one the
 * other drops. Here, in the lowest room they all import.
 *
 * Why this grammar: CloudWatch dimension values, DynamoDB keys, SNS attributes and log fields take
 * it unescaped, and 64 characters hold an Availability Zone with a stack's name and a shard.
 */

/** The most characters an observer's name has. */
export const observerNameMaxChars = 64;

const shape = new RegExp(`^[A-Za-z0-9._:@-]{1,${observerNameMaxChars}}$`);

/** What {@link isObserverName} accepts, in the words of every error about a name. */
export const observerNameRule = `1 to ${observerNameMaxChars} letters, digits and . _ : @ -`;

/** Whether `name` is an observer's name. */
export function isObserverName(name: string): boolean {
  return shape.test(name);
}

/** Why `name` is not an observer's name (quoted, short), or undefined when it is one. */
export function observerNameProblem(name: string): string | undefined {
  if (isObserverName(name)) return undefined;
  const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
  return `${shown} is not an observer name (${observerNameRule}${name.length > observerNameMaxChars ? `; it has ${name.length}` : ''})`;
}
