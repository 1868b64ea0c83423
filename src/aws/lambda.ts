/**
 * Lambda: the only place that talks to it (the bridge's target function: Invoke, and GetFunction
 * to check at start-up that it is there).
 */
import { GetFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { callAws, type CallOptions } from './call.js';
import { clientSettings, type ClientOptions } from './settings.js';

export type { LambdaClient } from '@aws-sdk/client-lambda';

/** A Lambda client with the standard settings (src/aws/settings.ts). */
export function lambdaClient(options: ClientOptions = {}): LambdaClient {
  return new LambdaClient(clientSettings(options));
}

/** What an invocation answered. */
export interface InvokeResult {
  statusCode: number;
  /** Set when the function failed (`Unhandled`, or the function's own error type). */
  functionError?: string;
  payload?: Uint8Array;
}

/**
 * Invokes the function. A RequestResponse invoke waits for the function, so its bound is the
 * caller's (`bound`: the delivery deadline), not the common call bound. IAM: lambda:InvokeFunction.
 */
export async function invoke(
  client: LambdaClient,
  request: { functionName: string; invocationType: 'RequestResponse' | 'Event'; payload: string },
  bound: Required<CallOptions>,
  signal?: AbortSignal,
): Promise<InvokeResult> {
  const out = await callAws(
    'lambda:InvokeFunction',
    signal,
    (abortSignal) =>
      client.send(new InvokeCommand({ FunctionName: request.functionName, InvocationType: request.invocationType, Payload: Buffer.from(request.payload, 'utf8') }), {
        abortSignal,
        requestTimeout: bound.timeoutMs,
      }),
    bound,
  );
  return {
    statusCode: out.StatusCode ?? 0,
    ...(out.FunctionError ? { functionError: out.FunctionError } : {}),
    ...(out.Payload ? { payload: out.Payload } : {}),
  };
}

/** Resolves when the function exists and may be read; throws the RemoteError otherwise. */
export async function getFunction(client: LambdaClient, functionName: string, signal?: AbortSignal): Promise<void> {
  await callAws('lambda:GetFunction', signal, (abortSignal) => client.send(new GetFunctionCommand({ FunctionName: functionName }), { abortSignal }));
}
