/**
 * A stand-in for an AWS Query API (EC2, SNS) on 127.0.0.1, for what moto cannot be made to do
 * (answer 503, not know an instance yet) and for SDK-signed calls that aws-sdk-client-mock cannot
 * see (the wing's Query calls go straight to the client's HTTP handler). Each form-encoded POST is
 * recorded and answered by `answer`; reach it through AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL_SNS,
 * as any SDK client would. Binds a free port; `close()` ends it.
 *
 *   const ec2 = await startQueryStandIn((r) => ({ body: describeInstancesXml([{ instanceId: 'i-…' }]) }));
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the stand-in received it. */
export interface QueryRequest {
  action: string;
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
}

/** What the stand-in answers; `forward` passes the request on to another endpoint (moto) and returns its answer. */
export type QueryAnswer = { status?: number; body: string; contentType?: string } | { forward: string };

export interface QueryStandIn {
  /** `http://127.0.0.1:PORT` */
  url: string;
  requests: QueryRequest[];
  close(): Promise<void>;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export async function startQueryStandIn(answer: (request: QueryRequest) => QueryAnswer | Promise<QueryAnswer>): Promise<QueryStandIn> {
  const requests: QueryRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const params = Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
      const request = { action: params.Action ?? '', params, headers: req.headers };
      requests.push(request);
      void (async () => {
        try {
          const answered = await answer(request);
          if ('forward' in answered) {
            const headers = Object.fromEntries(Object.entries(req.headers).flatMap(([k, v]) => (typeof v === 'string' && k !== 'host' ? [[k, v]] : [])));
            const out = await fetch(`${answered.forward}${req.url ?? '/'}`, { method: req.method ?? 'POST', headers, body: raw });
            res.writeHead(out.status, { 'content-type': out.headers.get('content-type') ?? 'text/xml' });
            res.end(Buffer.from(await out.arrayBuffer()));
            return;
          }
          res.writeHead(answered.status ?? 200, { 'content-type': answered.contentType ?? 'text/xml' });
          res.end(answered.body);
        } catch (error) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`stand-in failed: ${String(error)}`);
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The instance ids of an EC2 DescribeInstances request (`InstanceId.1`, `InstanceId.2`, …), in order. */
export function instanceIdsOf(request: QueryRequest): string[] {
  return Object.entries(request.params)
    .filter(([k]) => /^InstanceId\.\d+$/.test(k))
    .sort(([a], [b]) => Number(a.split('.')[1]) - Number(b.split('.')[1]))
    .map(([, v]) => v);
}

/** An EC2 DescribeInstances answer, one reservation per instance, as EC2 writes it. */
export function describeInstancesXml(instances: ReadonlyArray<{ instanceId: string; privateIp?: string; launchTime?: string; tags?: Record<string, string> }>): string {
  const items = instances
    .map((i) => {
      const tags = Object.entries(i.tags ?? {})
        .map(([k, v]) => `<item><key>${esc(k)}</key><value>${esc(v)}</value></item>`)
        .join('');
      return (
        `<item><reservationId>r-0</reservationId><instancesSet><item><instanceId>${esc(i.instanceId)}</instanceId>` +
        (i.launchTime ? `<launchTime>${esc(i.launchTime)}</launchTime>` : '') +
        (i.privateIp ? `<privateIpAddress>${esc(i.privateIp)}</privateIpAddress>` : '') +
        `<tagSet>${tags}</tagSet></item></instancesSet></item>`
      );
    })
    .join('');
  return `<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>0</requestId><reservationSet>${items}</reservationSet></DescribeInstancesResponse>`;
}

/** An EC2 error answer (Response/Errors/Error), as EC2 writes it. */
export function ec2ErrorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${esc(code)}</Code><Message>${esc(message)}</Message></Error></Errors><RequestID>0</RequestID></Response>`;
}

/** An SNS Publish answer with this MessageId. */
export function publishXml(messageId: string): string {
  return `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${esc(messageId)}</MessageId></PublishResult><ResponseMetadata><RequestId>0</RequestId></ResponseMetadata></PublishResponse>`;
}
