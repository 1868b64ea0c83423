/**
 * The evidence function as Lambda runs it: dist/evidence.mjs alone in a folder, imported by a fresh
 * Node process per event, its environment the stack's (AUTOHEAL_EVIDENCE_BUCKET) plus moto's
 * endpoint. moto has no CompleteLifecycleAction: a stand-in in front of moto answers that one
 * action, as Auto Scaling does, and records it; every other request goes on to moto unchanged.
 */
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evidenceBundle, type EvidenceBundle } from '../helpers/evidence-bundle.js';
import { createMotoGroup, startMoto, type MotoFixture } from '../helpers/moto.js';
import { completeLifecycleActionAnswer, startMotoFront, type MotoFront } from '../helpers/moto-front.js';

const bucket = 'autoheal-evidence-bundle';
let moto: MotoFixture;
let s3: S3Client;
let standIn: MotoFront;
const completed: URLSearchParams[] = [];
let bundle: EvidenceBundle;

beforeAll(async () => {
  bundle = evidenceBundle();
  moto = await startMoto();
  s3 = new S3Client({ ...moto.clientConfig, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  standIn = await startMotoFront(moto.endpoint, async (request, forward) => {
    const form = new URLSearchParams(request.body.toString());
    if (form.get('Action') !== 'CompleteLifecycleAction') return forward();
    completed.push(form);
    return completeLifecycleActionAnswer();
  });
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  await standIn?.close();
  await moto?.stop();
  bundle?.remove();
});

const invoke = (event: unknown, env: Record<string, string>) => bundle.invoke(event, env);

const event = (group: string, instanceId: string) => ({
  'detail-type': 'EC2 Instance-terminate Lifecycle Action',
  source: 'aws.autoscaling',
  detail: { LifecycleActionToken: 'tok', AutoScalingGroupName: group, LifecycleHookName: 'autoheal-evidence-AutoHeal', EC2InstanceId: instanceId, LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' },
});

describe('the evidence bundle, a fresh process per event (moto, CompleteLifecycleAction stood in for)', () => {
  it('captures a marked instance and continues; continues an unmarked one at once; refuses to start without its bucket', async () => {
    // Prepare
    const group = await createMotoGroup(moto, { name: 'bundle-workers', size: 2 });
    const [marked, other] = group.instanceIds as [string, string];
    const doc = { kind: 'autoheal.evidence', version: 1, instanceId: marked, groupName: 'bundle-workers', markedAt: new Date().toISOString(), verdict: { action: 'mark', reason: 'unhealthy', source: 'probe', evidence: 'connect ECONNREFUSED', observedAt: new Date().toISOString(), eventId: 'e1' }, groupAtMark: { name: 'bundle-workers', desiredCapacity: 2, healthCheckGracePeriodSeconds: 0, suspendedProcesses: [], instances: [] } };
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `evidence/${marked}.json`, Body: JSON.stringify(doc) }));
    const env = { ...moto.env, AWS_ENDPOINT_URL: standIn.url, AUTOHEAL_EVIDENCE_BUCKET: bucket, LOG_LEVEL: 'warn' };

    // Act
    const capture = await invoke(event('bundle-workers', marked), env);
    const scaleIn = await invoke(event('bundle-workers', other), env);
    const { AUTOHEAL_EVIDENCE_BUCKET: _bucket, ...withoutBucket } = env;
    const unset = await invoke(event('bundle-workers', other), withoutBucket);

    // Assess
    expect(capture.result).toEqual({ instanceId: marked, outcome: 'captured', location: `s3://${bucket}/evidence/${marked}.json`, completed: 'completed' });
    expect(scaleIn.result).toEqual({ instanceId: other, outcome: 'notMarked', completed: 'completed' });
    expect(completed.map((f) => [f.get('InstanceId'), f.get('LifecycleActionResult'), f.get('LifecycleActionToken'), f.get('AutoScalingGroupName')])).toEqual([
      [marked, 'CONTINUE', 'tok', 'bundle-workers'],
      [other, 'CONTINUE', 'tok', 'bundle-workers'],
    ]);
    expect(unset.code).not.toBe(0);
    expect(unset.stderr).toContain('AUTOHEAL_EVIDENCE_BUCKET: required by the evidence function');
  });
});
