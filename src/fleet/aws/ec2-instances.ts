/**
 * Each instance's launch time and tags, from EC2 DescribeInstances — the grace period, the loop
 * breaker and suppression need them, and Auto Scaling's own calls do not return them.
 *
 * Why not `@aws-sdk/client-ec2`: its schemas are one 1.3 MB module that no bundler can shake,
 * so it would grow the Lambda bundle from 0.7 to 1.8 MB and its cold start by ~250 ms (past
 * 1.5x the baseline). This sends the one Query API call with the SDK's own parts instead: the
 * Auto Scaling client's resolved credentials, region and HTTP handler (timeouts and all), the
 * SDK's SigV4 signer and XML parser. Standard endpoint settings apply (AWS_ENDPOINT_URL_EC2,
 * AWS_ENDPOINT_URL), as for every client.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { parseXML } from '@aws-sdk/xml-builder';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';
import { callAws, chunks } from '../../aws-calls.js';

/** What EC2 says of one instance. */
export interface InstanceFacts {
  launchedAt?: Date;
  /** The primary private IPv4 address (what an observer in the VPC probes). */
  privateIp?: string;
  tags: Record<string, string>;
}

/** Reads the facts of the given instances; ids EC2 does not know are absent. */
export type InstanceFactsReader = (instanceIds: readonly string[], signal?: AbortSignal) => Promise<Map<string, InstanceFacts>>;

/** DescribeInstances accepts up to 1000 ids; smaller calls keep one answer well within its deadline. */
const idsPerCall = 200;
const apiVersion = '2016-11-15';

type Xml = Record<string, unknown>;
const list = (value: unknown): unknown[] => (value === undefined || value === '' ? [] : Array.isArray(value) ? value : [value]);
const node = (value: unknown, key: string): unknown => (typeof value === 'object' && value !== null ? (value as Xml)[key] : undefined);
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function endpointOf(region: string): URL {
  const configured = process.env.AWS_ENDPOINT_URL_EC2?.trim() || process.env.AWS_ENDPOINT_URL?.trim();
  return new URL(configured || `https://ec2.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`);
}

/** An EC2 error response as the SDK would throw it: `name` is EC2's code, for the one classifier. */
function ec2Error(status: number, body: Xml): Error {
  const error = node(node(node(body, 'Response') ?? body, 'Errors'), 'Error');
  const first = list(error)[0];
  const code = text(node(first, 'Code')) ?? `HTTP${status}`;
  return Object.assign(new Error(text(node(first, 'Message')) ?? `EC2 answered HTTP ${status}`), {
    name: code,
    $metadata: { httpStatusCode: status },
  });
}

/** The reader over the Auto Scaling client's credentials, region and HTTP handler. */
export function ec2InstanceFacts(client: AutoScalingClient): InstanceFactsReader {
  return async (instanceIds, signal) => {
    const facts = new Map<string, InstanceFacts>();
    const config = client.config;
    for (const batch of chunks([...new Set(instanceIds)], idsPerCall)) {
      await callAws('ec2:DescribeInstances', signal, async () => {
        const region = await config.region();
        const url = endpointOf(region);
        const form = new URLSearchParams({ Action: 'DescribeInstances', Version: apiVersion });
        batch.forEach((id, i) => form.set(`InstanceId.${i + 1}`, id));
        const request = new HttpRequest({
          protocol: url.protocol,
          hostname: url.hostname,
          ...(url.port ? { port: Number(url.port) } : {}),
          path: url.pathname,
          method: 'POST',
          headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
          body: form.toString(),
        });
        const signer = new SignatureV4({ credentials: config.credentials, region, service: 'ec2', sha256: config.sha256 });
        const signed = await signer.sign(request);
        const { response } = await config.requestHandler.handle(signed as HttpRequest, signal ? { abortSignal: signal } : {});
        const bytes = await config.streamCollector(response.body);
        const body = parseXML(new TextDecoder().decode(bytes)) as Xml;
        if (response.statusCode >= 300) throw ec2Error(response.statusCode, body);
        const reservations = node(node(body, 'DescribeInstancesResponse'), 'reservationSet');
        for (const reservation of list(node(reservations, 'item'))) {
          for (const instance of list(node(node(reservation, 'instancesSet'), 'item'))) {
            const id = text(node(instance, 'instanceId'));
            if (id === undefined) continue;
            const launched = text(node(instance, 'launchTime'));
            const tags: Record<string, string> = {};
            for (const tag of list(node(node(instance, 'tagSet'), 'item'))) {
              const key = text(node(tag, 'key'));
              if (key !== undefined) tags[key] = text(node(tag, 'value')) ?? '';
            }
            const privateIp = text(node(instance, 'privateIpAddress'));
            facts.set(id, {
              ...(launched && !Number.isNaN(Date.parse(launched)) ? { launchedAt: new Date(launched) } : {}),
              ...(privateIp ? { privateIp } : {}),
              tags,
            });
          }
        }
      });
    }
    return facts;
  };
}
