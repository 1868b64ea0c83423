/**
 * The check's association as the Terraform module makes it (src/app-check/association.ts): EC2
 * Associate/DisassociateApplicationStatusCheck at the HTTP boundary (a stand-in answering EC2's
 * Query XML, element names from the SDK's EC2 model; moto has no such API), for Terraform's create,
 * update and destroy of an aws_lambda_invocation.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { applyAssociation, groupNameTag } from '../../src/app-check/association.js';
import { autoScalingClient } from '../../src/aws/autoscaling.js';
import { startQueryStandIn, type QueryRequest, type QueryStandIn } from '../helpers/query-stand-in.js';

const checkId = 'asc-0123456789abcdef0';
const client = autoScalingClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
let ec2: QueryStandIn;
let refuse: (value: string) => string | undefined = () => undefined;

/** The tags of a call (`TargetTagAssociation.N.Key` / `.Value`), in order. */
function tagsOf(r: QueryRequest): string[] {
  const out: string[] = [];
  for (let i = 1; r.params[`TargetTagAssociation.${i}.Key`] !== undefined; i++) out.push(`${r.params[`TargetTagAssociation.${i}.Key`]}=${r.params[`TargetTagAssociation.${i}.Value`]}`);
  return out;
}

beforeAll(async () => {
  ec2 = await startQueryStandIn((request) => {
    const results = tagsOf(request).map((target) => ({ target, reason: refuse(target) }));
    const item = (r: { target: string; reason?: string | undefined }): string =>
      `<item><applicationStatusCheckId>${request.params.ApplicationStatusCheckId}</applicationStatusCheckId><associationType>EC2TAG</associationType><associationValue>${r.target}</associationValue>${r.reason ? `<reason>${r.reason}</reason>` : ''}</item>`;
    return {
      body:
        `<${request.action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>` +
        `<successfulResultSet>${results.filter((r) => !r.reason).map(item).join('')}</successfulResultSet>` +
        `<unsuccessfulResultSet>${results.filter((r) => r.reason).map(item).join('')}</unsuccessfulResultSet></${request.action}Response>`,
    };
  });
});
afterAll(() => ec2.close());
afterEach(() => {
  ec2.requests.length = 0;
  refuse = () => undefined;
  vi.unstubAllEnvs();
});

describe('the association of the check with the groups (Terraform CRUD)', () => {
  it('create associates each group by its group-name tag', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL_EC2', ec2.url);
    const outcome = await applyAssociation(client, checkId, { associate: { groups: ['web', 'api'] }, tf: { action: 'create' } });
    expect(ec2.requests.map((r) => [r.action, r.params.ApplicationStatusCheckId, tagsOf(r)])).toEqual([
      ['AssociateApplicationStatusCheck', checkId, [`${groupNameTag}=web`, `${groupNameTag}=api`]],
    ]);
    expect(outcome).toEqual({ action: 'create', associated: [`${groupNameTag}=web`, `${groupNameTag}=api`], disassociated: [], refused: [] });
  });

  it('update associates the groups named and disassociates the ones no longer named', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL_EC2', ec2.url);
    await applyAssociation(client, checkId, { associate: { groups: ['web', 'new'] }, tf: { action: 'update', prev_input: { associate: { groups: ['web', 'old'] } } } });
    expect(ec2.requests.map((r) => [r.action, tagsOf(r)])).toEqual([
      ['AssociateApplicationStatusCheck', [`${groupNameTag}=web`, `${groupNameTag}=new`]],
      ['DisassociateApplicationStatusCheck', [`${groupNameTag}=old`]],
    ]);
  });

  it('a refused association fails the apply, naming the tag and EC2 reason', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL_EC2', ec2.url);
    refuse = (target) => (target.endsWith('=api') ? 'tag key is reserved' : undefined);
    await expect(applyAssociation(client, checkId, { associate: { groups: ['web', 'api'] } })).rejects.toThrow(
      `EC2 refused to associate ${checkId} with ${groupNameTag}=api (tag key is reserved)`,
    );
  });

  it('destroy disassociates every group and reports a refusal instead of failing', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL_EC2', ec2.url);
    refuse = (target) => (target.endsWith('=gone') ? 'no such association' : undefined);
    const outcome = await applyAssociation(client, checkId, { associate: { groups: ['web', 'gone'] }, tf: { action: 'delete' } });
    expect(ec2.requests.map((r) => [r.action, tagsOf(r)])).toEqual([['DisassociateApplicationStatusCheck', [`${groupNameTag}=web`, `${groupNameTag}=gone`]]]);
    expect(outcome).toEqual({ action: 'delete', associated: [], disassociated: [`${groupNameTag}=web`], refused: [{ target: `${groupNameTag}=gone`, reason: 'no such association' }] });
  });
});
