/**
 * One signed call to an AWS Query API (a form-encoded POST, an XML answer) made with an SDK
 * client's own parts: its resolved credentials, region and HTTP handler (timeouts and all), the
 * SDK's SigV4 signer and XML parser. Why: a whole service client costs the Lambda's cold start for
 * one call (EC2's schemas are one 1.3 MB module; SNS's add ~20-30 ms to init), and the Auto Scaling
 * client the healer already has carries everything a signed call needs. Standard endpoint
 * settings apply (AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL), as for every client.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { parseXML } from '@aws-sdk/xml-builder';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';

/** A parsed XML document. */
export type Xml = Record<string, unknown>;
export const xmlList = (value: unknown): unknown[] => (value === undefined || value === '' ? [] : Array.isArray(value) ? value : [value]);
export const xmlNode = (value: unknown, key: string): unknown => (typeof value === 'object' && value !== null ? (value as Xml)[key] : undefined);
export const xmlText = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** The client whose parts sign and send the call (the healer's Auto Scaling client). */
export type SigningClient = Pick<AutoScalingClient, 'config'>;

export interface QueryCall {
  /** The signing name and host prefix: `ec2`, `sns`. */
  service: string;
  /** The SDK's endpoint variable suffix: `EC2` for AWS_ENDPOINT_URL_EC2, `SNS`. */
  endpointId: string;
  action: string;
  version: string;
  params: Record<string, string>;
}

function endpointOf(call: QueryCall, region: string): URL {
  const configured = process.env[`AWS_ENDPOINT_URL_${call.endpointId}`]?.trim() || process.env.AWS_ENDPOINT_URL?.trim();
  return new URL(configured || `https://${call.service}.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`);
}

/** An error answer as the SDK would throw it: `name` is the service's code, for the one classifier. */
function queryError(status: number, body: Xml, service: string): Error {
  // EC2 answers Response/Errors/Error; the other Query services ErrorResponse/Error.
  const error = xmlNode(xmlNode(xmlNode(body, 'Response') ?? body, 'Errors'), 'Error') ?? xmlNode(xmlNode(body, 'ErrorResponse'), 'Error');
  const first = xmlList(error)[0];
  const code = xmlText(xmlNode(first, 'Code')) ?? `HTTP${status}`;
  return Object.assign(new Error(xmlText(xmlNode(first, 'Message')) ?? `${service} answered HTTP ${status}`), {
    name: code,
    $metadata: { httpStatusCode: status },
  });
}

/** Sends the call; resolves with the parsed answer, throws the service's error (convert it with callAws). */
export async function sendQuery(client: SigningClient, call: QueryCall, signal?: AbortSignal): Promise<Xml> {
  const config = client.config;
  const region = await config.region();
  const url = endpointOf(call, region);
  const form = new URLSearchParams({ Action: call.action, Version: call.version, ...call.params });
  const request = new HttpRequest({
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    method: 'POST',
    headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: form.toString(),
  });
  const signer = new SignatureV4({ credentials: config.credentials, region, service: call.service, sha256: config.sha256 });
  const signed = await signer.sign(request);
  const { response } = await config.requestHandler.handle(signed as HttpRequest, signal ? { abortSignal: signal } : {});
  const bytes = await config.streamCollector(response.body);
  const body = parseXML(new TextDecoder().decode(bytes)) as Xml;
  if (response.statusCode >= 300) throw queryError(response.statusCode, body, call.service);
  return body;
}
