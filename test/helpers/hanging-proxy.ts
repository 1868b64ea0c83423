/**
 * An HTTP proxy on a loopback port in front of an emulator (fauxqs): requests pass through
 * unchanged, except those `hang` picks, which are read and never answered (the connection stays
 * open), as AWS looks when a request is lost on the way. SQS's JSON protocol names the action in
 * the `x-amz-target` header (`AmazonSQS.DeleteMessageBatch`), which {@link sqsAction} reads.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HangingProxy {
  /** `http://127.0.0.1:PORT`, for AWS_ENDPOINT_URL. */
  url: string;
  /** Requests held so far, by action. */
  held: string[];
  close(): Promise<void>;
}

/** The SQS action of a request (`DeleteMessageBatch`), or ''. */
export function sqsAction(request: IncomingMessage): string {
  const target = request.headers['x-amz-target'];
  return typeof target === 'string' ? (target.split('.').pop() ?? '') : '';
}

/** Starts the proxy to `upstream` (`http://127.0.0.1:PORT`); `hang` decides per request (called once each). */
export async function startHangingProxy(upstream: string, hang: (action: string) => boolean): Promise<HangingProxy> {
  const target = new URL(upstream);
  const held: string[] = [];
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const action = sqsAction(req);
    if (hang(action)) {
      held.push(action);
      open.add(res);
      req.resume();
      return;
    }
    const forward = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    held,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of open) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
