/**
 * A stand-in in front of moto on 127.0.0.1, for what moto lacks (CompleteLifecycleAction, the
 * policies it does not keep) or what a test must steer (holding a read, ordering writes). Every
 * request, of any service, goes to `answer`, which answers it itself or passes it on to moto
 * unchanged (`forward`) and may change what moto said. Reach it through AWS_ENDPOINT_URL; it binds
 * a free port, `close()` ends it. (For a Query API stand-in that needs no moto behind it, see
 * ./query-stand-in.ts.)
 *
 *   const front = await startMotoFront(moto.endpoint, async (request, forward) =>
 *     new URLSearchParams(request.body.toString()).get('Action') === 'CompleteLifecycleAction' ? completeLifecycleActionAnswer() : forward());
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the stand-in received it. */
export interface FrontRequest {
  url?: string;
  method?: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** What the stand-in answers: moto's answer (from `forward`), changed or not, or one of its own. */
export interface FrontAnswer {
  status: number;
  type: string;
  body: Buffer;
}

export interface MotoFront {
  /** `http://127.0.0.1:PORT` */
  url: string;
  close(): Promise<void>;
}

/** Passes `request` on to moto as it came (but for the host and the length fetch sets) and returns moto's answer. */
async function forwardTo(motoEndpoint: string, request: FrontRequest): Promise<FrontAnswer> {
  const headers = Object.fromEntries(Object.entries(request.headers).flatMap(([k, v]) => (typeof v === 'string' && k !== 'host' && k !== 'content-length' ? [[k, v]] : [])));
  const answer = await fetch(`${motoEndpoint}${request.url ?? '/'}`, { method: request.method ?? 'GET', headers, ...(request.body.length > 0 ? { body: request.body } : {}) });
  return { status: answer.status, type: answer.headers.get('content-type') ?? 'text/xml', body: Buffer.from(await answer.arrayBuffer()) };
}

export async function startMotoFront(motoEndpoint: string, answer: (request: FrontRequest, forward: () => Promise<FrontAnswer>) => Promise<FrontAnswer>): Promise<MotoFront> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request: FrontRequest = { url: req.url, method: req.method, headers: req.headers, body: Buffer.concat(chunks) };
      answer(request, () => forwardTo(motoEndpoint, request)).then(
        (out) => {
          res.writeHead(out.status, { 'content-type': out.type });
          res.end(out.body);
        },
        (error: Error) => {
          res.writeHead(502);
          res.end(error.message);
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Auto Scaling's answer to a CompleteLifecycleAction that succeeded (moto has no such action). */
export function completeLifecycleActionAnswer(): FrontAnswer {
  return {
    status: 200,
    type: 'text/xml',
    body: Buffer.from('<CompleteLifecycleActionResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><CompleteLifecycleActionResult/><ResponseMetadata><RequestId>stand-in</RequestId></ResponseMetadata></CompleteLifecycleActionResponse>'),
  };
}
