/**
 * The evidence function: bundled by scripts/build.mjs into dist/evidence.mjs (handler
 * `evidence.handler`), started by EventBridge for each termination lifecycle action of the
 * stack's hook on the managed groups (./event.ts), doing ./capture.ts. Settings come from the
 * environment at init (AUTOHEAL_EVIDENCE_BUCKET): a missing bucket fails the cold start, and the
 * hook's default result lets every termination go on meanwhile.
 *
 * One Auto Scaling client: EC2 GetConsoleOutput and S3 are signed with its parts (src/aws/query.ts,
 * src/aws/s3.ts), so the bundle carries neither the EC2 nor the S3 client.
 *
 * It returns what it did, and throws only when completing the action failed in a way a retry may
 * fix (Lambda retries asynchronous events), so the instance is not held until the hook times out.
 */
import { autoScalingClient } from '../aws/autoscaling.js';
import { resolveSettings } from '../config.js';
import { ConfigError } from '../errors.js';
import { createLogger } from '../log.js';
import { s3EvidenceStore } from '../operate/evidence.js';
import { createEvidenceHandler } from './capture.js';

const settings = resolveSettings();
if (settings.evidenceBucket === undefined) throw new ConfigError('AUTOHEAL_EVIDENCE_BUCKET: required by the evidence function (the stack sets it)');
const logger = createLogger({ component: 'evidence', level: settings.logLevel, fd: 1 });
const autoScaling = autoScalingClient();

export const handler = createEvidenceHandler({ autoScaling, store: s3EvidenceStore(autoScaling, settings.evidenceBucket), logger });
