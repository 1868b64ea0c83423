/**
 * One grammar for observers' names: a name the prober accepts is exactly a name the parsers keep
 * on a verdict (so it reaches the quorum), and the other way round.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { proberOptionsSchema } from '../../src/prober/options.js';
import { parseEvent, probeSignal, toAlarmMessage } from '../../src/signals/index.js';
import { isObserverName, observerNameMaxChars, observerNameProblem } from '../../src/signals/observer-name.js';

/** The observer the parsers keep on a probe verdict published under `name`. */
function keptName(name: string): string | undefined {
  const signal = probeSignal({ instanceId: 'i-0123456789abcdef0', healthy: false, target: 'tcp://10.0.0.1:80', observedAt: '2026-01-01T00:00:00.000Z', detail: 'x', sequence: 1, observer: name });
  return parseEvent(toAlarmMessage(signal)).signals[0]?.observer;
}

describe('observer names', () => {
  it('accepts zone and stack names, refuses a slash, a space, the empty name and more than 64 characters, saying why', () => {
    // Act / Assess
    for (const name of ['observer-us-east-1a', 'prod_web.observer:2@host', 'a', 'x'.repeat(observerNameMaxChars)]) expect(isObserverName(name), name).toBe(true);
    for (const name of ['zone/a', 'two words', '', 'x'.repeat(observerNameMaxChars + 1), 'é']) expect(isObserverName(name), name).toBe(false);
    expect(observerNameProblem('zone/a')).toBe('"zone/a" is not an observer name (1 to 64 letters, digits and . _ : @ -)');
    expect(observerNameProblem('x'.repeat(65))).toMatch(/; it has 65\)$/);
    expect(observerNameProblem('observer-a')).toBeUndefined();
  });

  it('a name the prober accepts is a name the healer counts, and only those', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.stringMatching(/^[A-Za-z0-9._:@/ -]{0,70}$/)), (name) => {
        const accepted = proberOptionsSchema.safeParse({ observer: name }).success;
        expect(accepted).toBe(isObserverName(name));
        // The parser trims a dimension's value; a name with no space around it comes back as sent.
        if (name.trim() === name) expect(keptName(name) === name).toBe(accepted);
      }),
      { numRuns: 500 },
    );
  });
});
