/**
 * The evidence function's input and the evidence document, read back: bad input never throws, and
 * the reason names the failing place (fast-check over any JSON value, then the cases that matter).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTerminateAction } from '../../src/evidence/event.js';
import { lastLines, parseEvidence } from '../../src/operate/evidence.js';

const action = {
  source: 'aws.autoscaling',
  'detail-type': 'EC2 Instance-terminate Lifecycle Action',
  detail: {
    LifecycleActionToken: 't',
    AutoScalingGroupName: 'web',
    LifecycleHookName: 'autoheal-evidence-AutoHeal',
    EC2InstanceId: 'i-0123456789abcdef0',
    LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
  },
};

describe('parseTerminateAction', () => {
  it('never throws, whatever the event', () => {
    fc.assert(fc.property(fc.jsonValue(), (event) => void parseTerminateAction(event)));
    fc.assert(fc.property(fc.jsonValue(), (detail) => void parseTerminateAction({ ...action, detail })));
  });

  it('reads the action Auto Scaling sends, and names what is wrong otherwise', () => {
    // Assess
    expect(parseTerminateAction(action)).toEqual({ ok: true, action: { groupName: 'web', hookName: 'autoheal-evidence-AutoHeal', instanceId: 'i-0123456789abcdef0', token: 't' } });
    expect(parseTerminateAction({ ...action, detail: { ...action.detail, EC2InstanceId: 'web-1' } })).toEqual({ ok: false, reason: 'detail.EC2InstanceId: not an EC2 instance id' });
    expect(parseTerminateAction({ ...action, detail: { ...action.detail, LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' } })).toMatchObject({ ok: false, reason: expect.stringContaining('detail.LifecycleTransition') });
    expect(parseTerminateAction({ ...action, source: 'aws.ec2' })).toEqual({ ok: false, reason: 'source: expected "aws.autoscaling", got "aws.ec2"' });
    expect(parseTerminateAction(null)).toEqual({ ok: false, reason: 'event: not a JSON object' });
    const { LifecycleActionToken: _token, ...withoutToken } = action.detail;
    expect(parseTerminateAction({ ...action, detail: withoutToken })).toMatchObject({ ok: true, action: { instanceId: 'i-0123456789abcdef0' } });
  });
});

describe('parseEvidence', () => {
  it('never throws, whatever the text', () => {
    fc.assert(fc.property(fc.string(), (text) => void parseEvidence(text)));
    fc.assert(fc.property(fc.jsonValue(), (doc) => void parseEvidence(JSON.stringify(doc))));
  });

  it('refuses another version by name, and a document without its verdict', () => {
    // Prepare
    const doc = { kind: 'autoheal.evidence', version: 1, instanceId: 'i-0123456789abcdef0', groupName: 'web', markedAt: '2026-12-03T00:00:00.000Z', verdict: { reason: 'unhealthy' }, groupAtMark: {} };

    // Assess
    expect(parseEvidence(JSON.stringify(doc)).ok).toBe(true);
    expect(parseEvidence(JSON.stringify({ ...doc, version: 2 }))).toEqual({ ok: false, reason: 'version: 2, this autoheal reads version 1 (upgrade autoheal)' });
    expect(parseEvidence(JSON.stringify({ ...doc, verdict: undefined }))).toEqual({ ok: false, reason: 'verdict: missing or without a reason' });
    expect(parseEvidence('{')).toEqual({ ok: false, reason: 'not JSON' });
  });
});

describe('lastLines', () => {
  it('keeps the last lines of a console output, oldest first, without carriage returns or the trailing empty line', () => {
    // Assess
    expect(lastLines('a\r\nb\r\nc\r\n', 2)).toEqual(['b', 'c']);
    expect(lastLines('')).toEqual([]);
  });
});
