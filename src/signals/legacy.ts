/**
 * The 2014 bridge sent the SQS body with every `\"` replaced by the two characters `!!`, so
 * the SNS `Message` reads `{!!AlarmName!!:!!x!!,…}` and an empty string is `!!!!`.
 * (../shared/fixtures/aws-events/SOURCES.md, seed-2014-escaped.json.)
 */

/** Whether a `Message` string is in the legacy form. */
export function isLegacyEscaped(message: string): boolean {
  let i = 0;
  while (i < message.length && i < 64 && (message[i] === ' ' || message[i] === '\n' || message[i] === '\r' || message[i] === '\t')) i++;
  return message.startsWith('{!!', i);
}

/**
 * Undoes the legacy escaping in one pass. A run of n bangs was n/2 quotes; an odd run
 * means a value ended with `!` just before its closing quote (`"Hi!"` → `!!Hi!!!`).
 */
export function decodeLegacy(message: string): string {
  const parts: string[] = [];
  let from = 0;
  let i = message.indexOf('!');
  while (i >= 0) {
    let end = i;
    while (end < message.length && message.charCodeAt(end) === 33) end++;
    const run = end - i;
    if (run >= 2) {
      parts.push(message.slice(from, i));
      parts.push(run % 2 === 1 ? `!${'"'.repeat((run - 1) / 2)}` : '"'.repeat(run / 2));
      from = end;
    }
    i = message.indexOf('!', end);
  }
  parts.push(message.slice(from));
  return parts.join('');
}
