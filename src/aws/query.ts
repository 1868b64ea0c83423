/**
 * One signed call to an AWS Query API (a form-encoded POST, an XML answer) made with an SDK
 * client's own parts: its resolved credentials, region and HTTP handler (timeouts and all), its
 * retry strategy, the SDK's SigV4 signer and XML parser. Why: a whole service client costs the
 * Lambda's cold start for one call (EC2's schemas are one 1.3 MB module; SNS's add ~20-30 ms to
 * init), and the Auto Scaling client the healer already has carries everything a signed call needs.
 *
 * Handled as the SDK handles its own calls:
 * - the status is read before the body: an error answer is read for the service's code when it is
 *   XML, and named from its status when it is not (a 503 with an empty body is ServiceUnavailable);
 * - attempts go through the SDK's retry middleware with the signing client's retry strategy: the
 *   same classification (throttling, transient, 5xx), attempts, backoff and retry quota as every
 *   call of that client;
 * - the endpoint is the signing client's own, when it is a client of this service given one in
 *   code (an emulator); otherwise AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, or the service's
 *   regional endpoint.
 */
import type { AutoScalingClientResolvedConfig } from '@aws-sdk/client-auto-scaling';
import { parseXML } from '@aws-sdk/xml-builder';
import { HttpRequest } from '@smithy/core/protocols';
import { retryMiddleware } from '@smithy/core/retry';
import { SignatureV4 } from '@smithy/signature-v4';
import { SMITHY_CONTEXT_KEY, type FinalizeHandler, type HandlerExecutionContext, type HttpResponse, type MetadataBearer } from '@smithy/types';

/** A parsed XML document. */
export type Xml = Record<string, unknown>;
export const xmlList = (value: unknown): unknown[] => (value === undefined || value === '' ? [] : Array.isArray(value) ? value : [value]);
export const xmlNode = (value: unknown, key: string): unknown => (typeof value === 'object' && value !== null ? (value as Xml)[key] : undefined);
export const xmlText = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** The parts of any SDK v3 client that sign, send and retry a call (the healer's Auto Scaling client, an SNS client). */
export interface SigningClient {
  config: Pick<
    AutoScalingClientResolvedConfig,
    'region' | 'credentials' | 'sha256' | 'requestHandler' | 'streamCollector' | 'retryStrategy' | 'maxAttempts' | 'logger' | 'serviceId'
  > & { endpoint?: AutoScalingClientResolvedConfig['endpoint'] | undefined };
}

export interface QueryCall {
  /** The signing name and host prefix: `ec2`, `sns`. */
  service: string;
  /** The SDK's service id: `EC2`, `SNS` (AWS_ENDPOINT_URL_EC2, an SNS client's own endpoint). */
  serviceId: string;
  action: string;
  version: string;
  params: Record<string, string>;
  /** The region the call goes to; default the signing client's (a topic's region is in its ARN). */
  region?: string;
}

/** Error codes for answers whose body names none, by status (as the SDK's classifier reads them). */
const codeOfStatus: Record<number, string> = { 429: 'Throttling', 500: 'InternalFailure', 502: 'BadGateway', 503: 'ServiceUnavailable', 504: 'GatewayTimeout' };

/** Where a call of this service goes: the signing client's own endpoint (a client of this service), AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, or the regional endpoint. */
export async function endpointOf(client: SigningClient, call: Pick<QueryCall, 'service' | 'serviceId'>, region: string): Promise<URL> {
  if (client.config.serviceId === call.serviceId && client.config.endpoint) {
    const own = await client.config.endpoint();
    return new URL(`${own.protocol}//${own.hostname}${own.port ? `:${own.port}` : ''}${own.path}`);
  }
  const suffix = call.serviceId.toUpperCase().replace(/ /g, '_');
  const configured = process.env[`AWS_ENDPOINT_URL_${suffix}`]?.trim() || process.env.AWS_ENDPOINT_URL?.trim();
  return new URL(configured || `https://${call.service}.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`);
}

/** The body as XML, or undefined when it is empty or not XML (a proxy's or a load balancer's page). */
function xmlOf(text: string): Xml | undefined {
  if (!text.trimStart().startsWith('<')) return undefined;
  try {
    return parseXML(text) as Xml;
  } catch {
    return undefined;
  }
}

/** An error answer as the SDK would throw it: `name` is the service's code, `$metadata` and `$response` for the classifiers. */
function queryError(response: HttpResponse, body: Xml | undefined, service: string): Error {
  const status = response.statusCode;
  // EC2 answers Response/Errors/Error; the other Query services ErrorResponse/Error.
  const error = xmlNode(xmlNode(xmlNode(body, 'Response') ?? body, 'Errors'), 'Error') ?? xmlNode(xmlNode(body, 'ErrorResponse'), 'Error');
  const first = xmlList(error)[0];
  const code = xmlText(xmlNode(first, 'Code')) ?? codeOfStatus[status] ?? `HTTP${status}`;
  return Object.assign(new Error(xmlText(xmlNode(first, 'Message')) ?? `${service} answered HTTP ${status}${body === undefined ? ' without an error document' : ''}`), {
    name: code,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    $response: response,
  });
}

/**
 * Sends the call, with the signing client's retries; resolves with the parsed answer, throws the
 * service's error after the last attempt (convert it with callAws).
 */
export async function sendQuery(client: SigningClient, call: QueryCall, signal?: AbortSignal): Promise<Xml> {
  const config = client.config;
  const region = call.region ?? (await config.region());
  const url = await endpointOf(client, call, region);
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

  // One attempt, signed afresh: the retry middleware stamps its headers on the request first.
  const attempt: FinalizeHandler<object, MetadataBearer & { body: Xml }> = async (args) => {
    const signed = await signer.sign(args.request as HttpRequest);
    const { response } = await config.requestHandler.handle(signed as HttpRequest, signal ? { abortSignal: signal } : {});
    const text = new TextDecoder().decode(await config.streamCollector(response.body));
    if (response.statusCode >= 300) throw queryError(response, xmlOf(text), call.service);
    return { response, output: { $metadata: {}, body: parseXML(text) as Xml } };
  };
  const context: HandlerExecutionContext = { [SMITHY_CONTEXT_KEY]: signal ? { abortSignal: signal } : {} };
  const { output } = await retryMiddleware(config)(attempt, context)({ request, input: {} });
  return output.body;
}
