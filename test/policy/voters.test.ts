import { describe, expect, it } from 'vitest';
import { parseVoters, voterProblem } from '../../src/policy/voters.js';

const roleA = 'AROAEXAMPLEROLEID0001';
const roleB = 'AROAEXAMPLEROLEID0002';

describe('parseVoters (AUTOHEAL_OBSERVERS)', () => {
  it.each([
    ['observer-a,observer-b', [{ name: 'observer-a' }, { name: 'observer-b' }]],
    [` observer-a=${roleA} , observer-b=${roleB},`, [{ name: 'observer-a', roleId: roleA }, { name: 'observer-b', roleId: roleB }]],
    [`host-1,observer-a=${roleA}`, [{ name: 'host-1' }, { name: 'observer-a', roleId: roleA }]],
  ])('reads %j', (text, voters) => {
    expect(parseVoters(text)).toEqual(voters);
  });

  it.each([
    [' , ', /names no observer/],
    ['=AROAEXAMPLEROLEID0001', /expected an observer name, or name=ROLEID/],
    ['observer a', /expected an observer name/],
    ['observer-a=arn:aws:iam::1:role/x', /is not an IAM role's unique id .*get-role/],
    ['observer-a=', /is not an IAM role's unique id/],
    ['observer-a,observer-a', /"observer-a" is listed twice/],
  ])('refuses %j, saying how to write it', (text, message) => {
    const out = parseVoters(text);
    expect(out).toHaveProperty('error');
    expect((out as { error: string }).error).toMatch(message);
  });
});

describe('voterProblem', () => {
  const named = [{ name: 'observer-a' }, { name: 'observer-b' }];
  const proven = [{ name: 'observer-a', roleId: roleA }, { name: 'observer-b', roleId: roleB }];

  it('counts every name when no list is set', () => {
    expect(voterProblem(undefined, 'mallory', undefined)).toBeUndefined();
  });

  it('counts a listed name as given, and refuses any other, naming the list', () => {
    expect(voterProblem(named, 'observer-a', undefined)).toBeUndefined();
    expect(voterProblem(named, 'mallory', 'AROAANYTHING00000000:x')).toBe('"mallory" is not one of the observers AUTOHEAL_OBSERVERS names (observer-a, observer-b)');
  });

  it('with role ids, counts a vote only when the channel proves that role sent it', () => {
    expect(voterProblem(proven, 'observer-a', `${roleA}:observer-a`)).toBeUndefined();
    expect(voterProblem(proven, 'observer-a', `${roleB}:observer-b`)).toMatch(`channel says role ${roleB} sent it, not ${roleA}`);
    expect(voterProblem(proven, 'observer-a', undefined)).toMatch(/votes only through the verdict channel/);
  });
});
