import fc from 'fast-check';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../src/signals/index.js';
import type { ParseResult } from '../../src/signals/types.js';

const own = new URL('../fixtures/events/', import.meta.url);
const shared = new URL('../../../shared/fixtures/aws-events/', import.meta.url);
const texts = [own, shared]
  .filter((folder) => existsSync(fileURLToPath(folder)))
  .flatMap((folder) => readdirSync(folder).filter((name) => name.endsWith('.json')).map((name) => readFileSync(new URL(name, folder), 'utf8')));

function wellFormed(result: ParseResult): void {
  expect(Array.isArray(result.signals)).toBe(true);
  expect(Array.isArray(result.lifecycle)).toBe(true);
  expect(Array.isArray(result.rejected)).toBe(true);
  for (const rejection of result.rejected) expect(typeof rejection.reason).toBe('string');
  for (const signal of result.signals) expect(typeof signal.instanceId).toBe('string');
}

/** Replaces the value at a random path of a JSON value, or deletes it. */
function mutate(value: unknown, path: number[], replacement: unknown, remove: boolean): unknown {
  if (path.length === 0 || typeof value !== 'object' || value === null) return replacement;
  const keys = Object.keys(value);
  if (keys.length === 0) return replacement;
  const [head = 0, ...rest] = path;
  const key = keys[head % keys.length] as string;
  const copy: Record<string, unknown> = Array.isArray(value) ? ([...value] as unknown as Record<string, unknown>) : { ...value };
  if (remove && rest.length === 0) delete copy[key];
  else copy[key] = mutate((value as Record<string, unknown>)[key], rest, replacement, remove);
  return copy;
}

const runs = { numRuns: 300 };

describe('parseEvent never throws and always returns arrays', () => {
  it('on random JSON values', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => wellFormed(parseEvent(value))), runs);
  });

  it('on random values of any kind, including null-prototype objects', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBoxedValues: true, withMap: true, withSet: true, withDate: true, withSparseArray: true }), (value) =>
        wellFormed(parseEvent(value)),
      ),
      runs,
    );
  });

  it('on random strings, and random JSON text', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.json(), fc.string().map((s) => `{!!${s}`)), (text) => wellFormed(parseEvent(text))), runs);
  });

  it('on real events with one value replaced or removed', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...texts),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.oneof(fc.jsonValue(), fc.constant(undefined), fc.string()),
        fc.boolean(),
        (text, path, replacement, remove) => wellFormed(parseEvent(mutate(JSON.parse(text), path, replacement, remove))),
      ),
      runs,
    );
  });

  it('on real event text cut short or with characters spliced in', () => {
    fc.assert(
      fc.property(fc.constantFrom(...texts), fc.nat(), fc.string({ maxLength: 4 }), (text, at, insert) => {
        const cut = at % (text.length + 1);
        wellFormed(parseEvent(text.slice(0, cut)));
        wellFormed(parseEvent(text.slice(0, cut) + insert + text.slice(cut)));
      }),
      runs,
    );
  });

  it('on records, messages and envelopes nested deeper than any real event', () => {
    // Prepare
    let body: unknown = { AlarmName: 'x' };
    for (let i = 0; i < 10; i++) body = { Records: [{ messageId: `m${i}`, body: JSON.stringify(body) }] };

    // Act
    const result = parseEvent(body);

    // Assess
    expect(result.signals).toEqual([]);
    expect(result.rejected).toHaveLength(1);
    expect(result.rejected[0]?.reason).toMatch(/envelopes deep$/);
  });
});
