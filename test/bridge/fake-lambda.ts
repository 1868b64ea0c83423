/**
 * A local HTTP endpoint that answers the two Lambda API calls the bridge makes (GetFunction and
 * Invoke) the way the service does, so the real CLI can be pointed at it through
 * AWS_ENDPOINT_URL_LAMBDA. Each invocation is handed to `handler`, which may hold it as long as
 * the test wants.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the fake function answers for one invocation. */
export interface FakeInvokeResult {
  /** Sent as X-Amz-Function-Error (e.g. `Unhandled`): the function failed. */
  functionError?: string;
  payload?: string;
}

export interface Invocation {
  functionName: string;
  invocationType: string;
  body: string;
}

export interface FakeLambda {
  /** `http://127.0.0.1:PORT`, for AWS_ENDPOINT_URL_LAMBDA. */
  endpoint: string;
  invocations: Invocation[];
  close(): Promise<void>;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** Starts the fake on a free loopback port; only `functions` exist. */
export async function startFakeLambda(
  functions: readonly string[],
  handler: (invocation: Invocation) => Promise<FakeInvokeResult> = async () => ({ payload: 'null' }),
): Promise<FakeLambda> {
  const invocations: Invocation[] = [];
  const known = new Set(functions);
  const server: Server = createServer((request, response) => {
    const match = /^\/2015-03-31\/functions\/([^/]+)(\/invocations)?\/?(?:\?.*)?$/.exec(request.url ?? '');
    const name = match?.[1] ? decodeURIComponent(match[1]) : '';
    if (!match || !known.has(name)) {
      response
        .writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' })
        .end(JSON.stringify({ Type: 'User', message: `Function not found: arn:aws:lambda:us-east-1:000000000000:function:${name}` }));
      return;
    }
    if (!match[2]) {
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ Configuration: { FunctionName: name, Runtime: 'nodejs20.x' } }));
      return;
    }
    void (async () => {
      const invocationType = String(request.headers['x-amz-invocation-type'] ?? 'RequestResponse');
      const invocation = { functionName: name, invocationType, body: await readBody(request) };
      invocations.push(invocation);
      const result = await handler(invocation);
      if (response.destroyed) return;
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' };
      if (result.functionError) headers['x-amz-function-error'] = result.functionError;
      response.writeHead(invocationType === 'Event' ? 202 : 200, headers).end(invocationType === 'Event' ? '' : (result.payload ?? 'null'));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    invocations,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
