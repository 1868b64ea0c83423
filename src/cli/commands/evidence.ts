/**
 * `autoheal evidence INSTANCE [--bucket B] [--json]`: what autoheal kept of an instance it marked,
 * after the instance is gone (src/operate/evidence.ts): the verdict with its evidence, the group's
 * state at the mark, and once the termination hook held it, its latest console output and the
 * group's state then; with quarantine `retain`, whether it was kept (Terminating:Retained) and the
 * command that releases it. Reads `evidence/<instance>.json` in the stack's bucket (output
 * `EvidenceBucketName`, or AUTOHEAL_EVIDENCE_BUCKET).
 */
import type { Command } from 'commander';
import { autoScalingClient, type AutoScalingClient } from '../../aws/autoscaling.js';
import { autohealEnv, bucketNamePattern } from '../../config.js';
import { describeError, InvalidInputError } from '../../errors.js';
import { evidenceLocation, s3EvidenceStore, type EvidenceRecord, type GroupState } from '../../operate/evidence.js';
import { isEc2InstanceId } from '../../signals/read.js';
import { ExitCode } from '../exit-codes.js';

export interface EvidenceFlags {
  bucket?: string;
  json?: boolean;
  region?: string;
}

function groupLine(label: string, g: GroupState): string {
  const states = new Map<string, number>();
  for (const i of g.instances) states.set(`${i.lifecycleState}/${i.healthStatus}`, (states.get(`${i.lifecycleState}/${i.healthStatus}`) ?? 0) + 1);
  const counts = [...states].map(([state, n]) => `${n} ${state}`).join(', ') || 'no instances';
  const suspended = g.suspendedProcesses.length > 0 ? `; suspended: ${g.suspendedProcesses.join(', ')}` : '';
  return `${label}: desired ${g.desiredCapacity}, ${counts}${suspended}`;
}

/** The evidence as a person reads it. */
export function evidenceText(r: EvidenceRecord, location: string): string {
  const v = r.verdict;
  const lines = [
    `instance ${r.instanceId} of group ${r.groupName}${r.availabilityZone ? ` (${r.availabilityZone})` : ''}`,
    `marked Unhealthy at ${r.markedAt}: ${v.detail ?? v.reason}`,
    `evidence: ${v.source}${v.observer ? ` from observer ${v.observer}` : ''}${v.alarmName ? `, alarm ${v.alarmName}` : ''}, seen ${v.observedAt}: ${v.evidence}`,
    groupLine('group at the mark', r.groupAtMark),
  ];
  const c = r.capture;
  if (c === undefined) {
    lines.push('termination: not captured (the termination had not started, the group has no autoheal termination hook, or the capture failed: see the evidence function\'s log)');
  } else {
    if (c.retained) {
      lines.push(`termination held by hook ${c.hookName} at ${c.at}, then ${c.result}: retained for inspection (Terminating:Retained), running and billed until released`);
      if (c.release) lines.push(`release: ${c.release}`);
    } else {
      lines.push(`termination held by hook ${c.hookName} at ${c.at}, then ${c.result}${c.notRetained ? ` (not retained: ${c.notRetained})` : ''}`);
    }
    lines.push(c.group ? groupLine('group at the termination', c.group) : `group at the termination: not read (${c.groupError ?? 'unknown'})`);
    if ('error' in c.consoleOutput) lines.push(`console output: not read (${c.consoleOutput.error})`);
    else {
      const o = c.consoleOutput;
      lines.push(`console output (${o.latest ? 'latest' : 'as buffered at the last boot or stop'}${o.takenAt ? `, taken ${o.takenAt}` : ''}; last ${c.lastOutput.length} lines of ${o.bytes} bytes):`);
      lines.push(...c.lastOutput.map((l) => `  | ${l}`));
    }
  }
  lines.push(`kept in ${location}`);
  return lines.join('\n');
}

/**
 * Prints the evidence; returns the exit code: 0 printed, 1 none kept for the instance (not marked
 * by autoheal, or expired), 2 bad usage, an unreadable document, or a failed AWS call.
 */
export async function runEvidence(instanceId: string, flags: EvidenceFlags, client?: AutoScalingClient, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const bucket = flags.bucket ?? env[autohealEnv.evidenceBucket];
  const fail = (message: string, code: number): number => {
    process.stderr.write(`autoheal evidence: ${message}\n`);
    return code;
  };
  if (!isEc2InstanceId(instanceId)) return fail(`"${instanceId}" is not an EC2 instance id (i-0123456789abcdef0)`, ExitCode.usage);
  if (bucket === undefined || bucket === '') return fail(`no bucket: give --bucket (the stack's output EvidenceBucketName) or set ${autohealEnv.evidenceBucket}`, ExitCode.usage);
  if (!bucketNamePattern.test(bucket)) return fail(`--bucket: "${bucket}" is not an S3 bucket name`, ExitCode.usage);
  const used = client ?? autoScalingClient({ region: flags.region });
  const location = evidenceLocation(bucket, instanceId);
  try {
    const record = await s3EvidenceStore(used, bucket).get(instanceId);
    if (record === undefined) {
      if (flags.json) process.stdout.write(`${JSON.stringify({ instanceId, location, found: false })}\n`);
      return fail(`no evidence for ${instanceId} in ${location}: autoheal did not mark it (with this bucket), or the bucket's expiry removed it`, ExitCode.noResult);
    }
    process.stdout.write(flags.json ? `${JSON.stringify({ location, found: true, evidence: record }, null, 2)}\n` : `${evidenceText(record, location)}\n`);
    return ExitCode.ok;
  } catch (error) {
    return fail(`${error instanceof InvalidInputError ? 'unreadable evidence: ' : ''}${describeError(error)}`, ExitCode.usage);
  } finally {
    if (!client) used.destroy();
  }
}

export function register(program: Command): void {
  program
    .command('evidence')
    .summary('print what autoheal kept of an instance it marked (verdict, group state, console output)')
    .description(
      [
        "Prints what autoheal kept of an instance it marked, after the instance is gone: the verdict with its evidence, the group's state at the mark, and, once the stack's termination hook held the instance, its latest console output and the group's state then. Read from evidence/INSTANCE.json in the stack's evidence bucket (output EvidenceBucketName), kept until the bucket's expiry.",
        'IAM: s3:GetObject on the bucket (with s3:ListBucket a missing object reads as "none kept"; without it S3 answers AccessDenied). Exit codes: 0 printed, 1 no evidence kept for the instance, 2 bad flags, an unreadable document or a failed AWS call.',
      ].join('\n\n'),
    )
    .argument('<instance>', 'the EC2 instance id')
    .option('--bucket <name>', `the evidence bucket (default: ${autohealEnv.evidenceBucket})`)
    .option('--json', 'print {location, found, evidence} as JSON', false)
    .option('--region <region>', "AWS region (default: the SDK's: AWS_REGION, the profile)")
    .action(async (instanceId: string, flags: EvidenceFlags) => {
      process.exitCode = await runEvidence(instanceId, flags);
    });
}
