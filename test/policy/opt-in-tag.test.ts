/**
 * parseOptInTag, the reader of `--opt-in-tag` and AUTOHEAL_OPT_IN_TAG. Only the CLI's child processes
 * called it, which coverage of the test process does not see; the pure core is held at 100 % of lines.
 */
import { describe, expect, it } from 'vitest';
import { parseOptInTag } from '../../src/policy/options.js';

describe('parseOptInTag', () => {
  it.each([
    ['autoheal:enabled=true', { optInTagKey: 'autoheal:enabled', optInTagValue: 'true' }],
    ['team=', { optInTagKey: 'team', optInTagValue: '' }],
    ['team=a=b', { optInTagKey: 'team', optInTagValue: 'a=b' }],
  ])('reads %s as key and value (the value may be empty or hold =)', (text, expected) => {
    expect(parseOptInTag(text)).toEqual(expected);
  });

  it.each(['autoheal:enabled', '=true', ''])('refuses %j, naming the expected form and what it got', (text) => {
    expect(parseOptInTag(text)).toEqual({ error: `expected key=value (for example autoheal:enabled=true), got "${text}"` });
  });
});
