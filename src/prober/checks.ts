/**
 * The two checks: HTTP GET (expects a status) and TCP connect. Each resolves with a result,
 * never rejects, and takes at most `timeoutMs`. Note that on loopback a frozen (SIGSTOPped)
 * process still accepts TCP connections (the kernel completes the handshake into its backlog),
 * so only the HTTP check sees a freeze.
 *
 * Bounds, so that one bad target cannot cost the others anything but its own slot for
 * `timeoutMs`: the deadline covers everything (connect, request, status line and headers);
 * the HTTP check reads the status line and at most {@link maxHeaderBytes} of headers, never
 * the body (no check rule looks at it), and resets its connection as soon as it has the status,
 * so a body streamed forever or a 1 GiB body costs one socket for an instant, not one per check.
 */
import { request, type Agent } from 'node:http';
import { createConnection, type Socket } from 'node:net';
import type { CheckResult } from './types.js';

/** The most a check reads of a response's status line and headers; more fails the check. */
export const maxHeaderBytes = 16 * 1024;

export type { CheckResult } from './types.js';

/**
 * Ends a check's connection at once. A connected socket is reset (RST) rather than closed with a
 * FIN: closing first would leave this side's port in TIME_WAIT for a minute, and at a thousand
 * checks a second that exhausts the ephemeral ports (connect() then slows down and the schedule
 * slips). A socket still connecting is only destroyed: a reset would wait for the connection.
 */
function endConnection(socket: Socket | null | undefined): void {
  if (!socket || socket.destroyed) return;
  if (socket.readyState === 'open') socket.resetAndDestroy();
  else socket.destroy();
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const e = error as { code?: unknown; message?: unknown };
    if (typeof e.code === 'string') return e.code;
    if (typeof e.message === 'string') return e.message;
  }
  return String(error);
}

/**
 * GET http://host:port/path; ok when the status is `expectedStatus`. Only the status line and
 * headers are read: the connection is reset once they arrived, the body never read.
 */
export function httpCheck(
  target: { host: string; port: number; path: string; expectedStatus: number },
  timeoutMs: number,
  agent: Agent,
): Promise<CheckResult> {
  return new Promise((resolve) => {
    let settled = false;
    const req = request({
      host: target.host,
      port: target.port,
      path: target.path,
      method: 'GET',
      agent,
      maxHeaderSize: maxHeaderBytes,
      // The connection ends with this check: tell the server not to keep it for another request.
      headers: { connection: 'close' },
    });
    const finish = (result: CheckResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Every outcome closes the connection: an unread body (or a hanging server) would
      // otherwise keep the socket, and the agent's slot, for as long as the server likes.
      endConnection(req.socket);
      req.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ ok: false, error: `timeout after ${timeoutMs} ms` }), timeoutMs);
    req.once('response', (res) => {
      // Ending the connection (in finish) aborts the body; that abort is expected, not an error.
      res.on('error', () => {});
      const status = res.statusCode ?? 0;
      finish(status === target.expectedStatus ? { ok: true, status } : { ok: false, status, error: `status ${status}` });
    });
    // Kept after finish: a destroyed request may still emit 'error', which must not go unhandled.
    req.on('error', (error) => finish({ ok: false, error: errorCode(error) }));
    req.end();
  });
}

/** Connects to host:port; ok when the connection is accepted. Nothing is read or written. */
export function tcpCheck(target: { host: string; port: number }, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    let settled = false;
    const socket = createConnection({ host: target.host, port: target.port });
    const finish = (result: CheckResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      endConnection(socket);
      resolve(result);
    };
    const timer = setTimeout(() => finish({ ok: false, error: `timeout after ${timeoutMs} ms` }), timeoutMs);
    socket.once('connect', () => finish({ ok: true }));
    socket.on('error', (error) => finish({ ok: false, error: errorCode(error) }));
  });
}
