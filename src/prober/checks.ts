/**
 * The two checks: HTTP GET (expects a status) and TCP connect. Each resolves with a result,
 * never rejects, and takes at most `timeoutMs`. Note that on loopback a frozen (SIGSTOPped)
 * process still accepts TCP connections (the kernel completes the handshake into its backlog),
 * so only the HTTP check sees a freeze.
 */
import { request, type Agent } from 'node:http';
import { createConnection } from 'node:net';

/** The outcome of one check. */
export interface CheckResult {
  ok: boolean;
  /** Why it failed: `timeout after 500 ms`, `ECONNREFUSED`, `status 503`. */
  error?: string;
  /** The HTTP status, when one arrived. */
  status?: number;
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const e = error as { code?: unknown; message?: unknown };
    if (typeof e.code === 'string') return e.code;
    if (typeof e.message === 'string') return e.message;
  }
  return String(error);
}

/** GET http://host:port/path; ok when the status is `expectedStatus`. The body is discarded. */
export function httpCheck(
  target: { host: string; port: number; path: string; expectedStatus: number },
  timeoutMs: number,
  agent: Agent,
): Promise<CheckResult> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: CheckResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = request({ host: target.host, port: target.port, path: target.path, method: 'GET', agent }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      finish(status === target.expectedStatus ? { ok: true, status } : { ok: false, status, error: `status ${status}` });
    });
    const timer = setTimeout(() => {
      finish({ ok: false, error: `timeout after ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (error) => finish({ ok: false, error: errorCode(error) }));
    req.end();
  });
}

/** Connects to host:port; ok when the connection is accepted. */
export function tcpCheck(target: { host: string; port: number }, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    let settled = false;
    const socket = createConnection({ host: target.host, port: target.port });
    const finish = (result: CheckResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ ok: false, error: `timeout after ${timeoutMs} ms` }), timeoutMs);
    socket.once('connect', () => finish({ ok: true }));
    socket.once('error', (error) => finish({ ok: false, error: errorCode(error) }));
  });
}
