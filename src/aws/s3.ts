/**
 * S3: PutObject and GetObject of small JSON documents (the evidence of an instance autoheal marked,
 * src/operate/evidence.ts). Each call is one signed REST call made with the parts of a client the
 * process already has (the healer's and the evidence function's Auto Scaling client), as
 * ./query.ts does for the Query APIs: the S3 client would add its schemas to both Lambda bundles
 * for two calls.
 *
 * The endpoint: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (an emulator: path-style,
 * `/<bucket>/<key>`), else the bucket's virtual-hosted regional endpoint
 * (`https://<bucket>.s3.<region>.amazonaws.com/<key>`), which every bucket name S3 still accepts
 * (no dots, lowercase) can use.
 */
import { parseXML } from '@aws-sdk/xml-builder';
import { HttpRequest } from '@smithy/core/protocols';
import { retryMiddleware } from '@smithy/core/retry';
import { SignatureV4 } from '@smithy/signature-v4';
import { SMITHY_CONTEXT_KEY, type FinalizeHandler, type HandlerExecutionContext, type HttpResponse, type MetadataBearer } from '@smithy/types';
import { callAws } from './call.js';
import { xmlNode as node, xmlText as text, type SigningClient, type Xml } from './query.js';

/** An S3 object key's segments, each percent-encoded once (the path S3 signs). */
const encodedKey = (key: string): string => key.split('/').map(encodeURIComponent).join('/');

function urlOf(bucket: string, key: string, region: string): URL {
  const configured = process.env.AWS_ENDPOINT_URL_S3?.trim() || process.env.AWS_ENDPOINT_URL?.trim();
  if (configured) {
    const base = new URL(configured);
    return new URL(`${base.protocol}//${base.host}${base.pathname.replace(/\/$/, '')}/${bucket}/${encodedKey(key)}`);
  }
  return new URL(`https://${bucket}.s3.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}/${encodedKey(key)}`);
}

/** An S3 error answer as the SDK would throw it (`name` is S3's code), for callAws to classify. */
function s3Error(response: HttpResponse, body: string): Error {
  const status = response.statusCode;
  const error = node(safeXml(body), 'Error');
  const fallback: Record<number, string> = { 403: 'AccessDenied', 404: 'NotFound', 429: 'Throttling', 500: 'InternalError', 503: 'SlowDown' };
  return Object.assign(new Error(text(node(error, 'Message')) ?? `S3 answered HTTP ${status}`), {
    name: text(node(error, 'Code')) ?? fallback[status] ?? `HTTP${status}`,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    $response: response,
  });
}

/** One signed S3 call with the signing client's retries; resolves with the answer's status and body. */
async function sendS3(
  client: SigningClient,
  request: { method: 'GET' | 'PUT'; bucket: string; key: string; body?: string; contentType?: string },
  signal?: AbortSignal,
): Promise<{ status: number; body: string }> {
  const config = client.config;
  const region = await config.region();
  const url = urlOf(request.bucket, request.key, region);
  const http = new HttpRequest({
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    method: request.method,
    headers: { host: url.host, ...(request.contentType ? { 'content-type': request.contentType } : {}) },
    ...(request.body !== undefined ? { body: request.body } : {}),
  });
  // S3 signs the path as sent (no second encoding) and wants the payload's hash in a header.
  const signer = new SignatureV4({ credentials: config.credentials, region, service: 's3', sha256: config.sha256, uriEscapePath: false, applyChecksum: true });
  const attempt: FinalizeHandler<object, MetadataBearer & { status: number; body: string }> = async (args) => {
    const signed = await signer.sign(args.request as HttpRequest);
    const { response } = await config.requestHandler.handle(signed as HttpRequest, signal ? { abortSignal: signal } : {});
    const body = new TextDecoder().decode(await config.streamCollector(response.body));
    // A missing object is a GET's answer, not a failure to retry; a PUT's 404 is a missing bucket.
    if (response.statusCode >= 300 && !(request.method === 'GET' && response.statusCode === 404)) throw s3Error(response, body);
    return { response, output: { $metadata: {}, status: response.statusCode, body } };
  };
  const context: HandlerExecutionContext = { [SMITHY_CONTEXT_KEY]: signal ? { abortSignal: signal } : {} };
  const { output } = await retryMiddleware(config)(attempt, context)({ request: http, input: {} });
  return { status: output.status, body: output.body };
}

/** PutObject of a UTF-8 text (JSON by default). */
export async function putObject(
  client: SigningClient,
  object: { bucket: string; key: string; body: string; contentType?: string },
  signal?: AbortSignal,
): Promise<void> {
  await callAws('s3:PutObject', signal, (abortSignal) =>
    sendS3(client, { method: 'PUT', bucket: object.bucket, key: object.key, body: object.body, contentType: object.contentType ?? 'application/json' }, abortSignal),
  );
}

/**
 * GetObject as UTF-8 text; undefined when the bucket has no such key (S3 answers 404 NoSuchKey).
 * Without s3:ListBucket, S3 answers a missing key with 403 AccessDenied instead: that stays an error.
 */
export async function getObject(client: SigningClient, object: { bucket: string; key: string }, signal?: AbortSignal): Promise<string | undefined> {
  return callAws('s3:GetObject', signal, async (abortSignal) => {
    const answer = await sendS3(client, { method: 'GET', bucket: object.bucket, key: object.key }, abortSignal);
    if (answer.status !== 404) return answer.body;
    const code = text(node(node(safeXml(answer.body), 'Error'), 'Code'));
    // A 404 naming another code (NoSuchBucket) is a wrong bucket, not a missing object.
    if (code !== undefined && code !== 'NoSuchKey') throw s3Error({ statusCode: 404, headers: {} } as HttpResponse, answer.body);
    return undefined;
  });
}

function safeXml(body: string): Xml | undefined {
  try {
    return body.trimStart().startsWith('<') ? (parseXML(body) as Xml) : undefined;
  } catch {
    return undefined;
  }
}
