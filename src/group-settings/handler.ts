/**
 * The group settings function: bundled by scripts/build.mjs into dist/group-settings.mjs (handler
 * `group-settings.handler`), run at deploy time by CloudFormation (the CDK custom-resource
 * Provider) or Terraform (aws_lambda_invocation, lifecycle_scope CRUD) once per named group
 * (./request.ts), doing ./apply.ts. A failure throws, so the deployment fails and names it: the
 * Provider framework answers CloudFormation FAILED with the message, and Terraform's invocation
 * reports the function error.
 */
import { autoScalingClient } from '../aws/autoscaling.js';
import { resolveSettings } from '../config.js';
import { createLogger } from '../log.js';
import { runRequest, type SettingsResponse } from './apply.js';
import { parseRequest } from './request.js';

const settings = resolveSettings();
const logger = createLogger({ component: 'group-settings', level: settings.logLevel, fd: 1 });
const autoScaling = autoScalingClient();

export async function handler(event: unknown): Promise<SettingsResponse> {
  const request = parseRequest(event);
  logger.info({ action: request.action, deployer: request.deployer, group: request.settings.groupName }, 'group settings: request');
  return runRequest({ autoScaling, logger }, request);
}
