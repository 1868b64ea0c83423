/**
 * The bridge's Prometheus metrics (prom-client, one registry per bridge so that several bridges
 * and tests never share counters) and the small HTTP server that exposes them at /metrics.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BridgeStage } from './machine.js';

/** Plain numbers of the same counters, readable synchronously (tests, the demo, the CLI's summary). */
export interface BridgeCounts {
  received: number;
  /** Deleted after the target succeeded (counted only once really deleted). */
  succeeded: number;
  /** Deleted because they can never succeed (bad input with --local). */
  rejected: number;
  /** Left for redelivery after a failure. */
  failed: number;
  /** Unfinished at a forced shutdown, left undeleted. */
  released: number;
  /** The target succeeded but every delete attempt failed; SQS will deliver it again. */
  deleteFailed: number;
  inFlight: number;
  loopRestarts: number;
  receiveErrors: number;
  /** Stages that did not finish within their bound, by stage (autoheal_bridge_stage_timeouts_total). */
  receiveTimeouts: number;
  deliveryTimeouts: number;
  visibilityTimeouts: number;
  deleteTimeouts: number;
}

const timeoutCount = {
  receive: 'receiveTimeouts',
  deliver: 'deliveryTimeouts',
  visibility: 'visibilityTimeouts',
  delete: 'deleteTimeouts',
} as const satisfies Record<BridgeStage, keyof BridgeCounts>;

export interface BridgeMetrics {
  readonly registry: Registry;
  readonly counts: Readonly<BridgeCounts>;
}

/** The metrics the bridge updates; created by startBridge. */
export class BridgeMetricsRecorder implements BridgeMetrics {
  readonly registry = new Registry();
  private readonly mutable: BridgeCounts = {
    received: 0,
    succeeded: 0,
    rejected: 0,
    failed: 0,
    released: 0,
    deleteFailed: 0,
    inFlight: 0,
    loopRestarts: 0,
    receiveErrors: 0,
    receiveTimeouts: 0,
    deliveryTimeouts: 0,
    visibilityTimeouts: 0,
    deleteTimeouts: 0,
  };
  private readonly messages = new Counter({
    name: 'autoheal_bridge_messages_total',
    help: 'Messages by outcome: received, succeeded (deleted after success), rejected (deleted, bad input), failed (left for retry), released, delete_failed.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly inFlightGauge = new Gauge({
    name: 'autoheal_bridge_messages_in_flight',
    help: 'Messages received and not yet finished.',
    registers: [this.registry],
  });
  private readonly restarts = new Counter({
    name: 'autoheal_bridge_loop_restarts_total',
    help: 'Times the watchdog restarted a stalled receive loop (a receive out past waitSeconds + stallGraceSeconds).',
    registers: [this.registry],
  });
  private readonly receiveErrorsCounter = new Counter({
    name: 'autoheal_bridge_receive_errors_total',
    help: 'ReceiveMessage calls that failed.',
    registers: [this.registry],
  });
  private readonly stageTimeouts = new Counter({
    name: 'autoheal_bridge_stage_timeouts_total',
    help: 'Stages that did not finish within their bound and were recovered: receive, deliver (the target), visibility (ChangeMessageVisibility), delete (DeleteMessageBatch).',
    labelNames: ['stage'] as const,
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'autoheal_bridge_message_duration_seconds',
    help: 'From receipt to outcome (delivery, and the delete when it succeeded).',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  constructor() {
    // Every stage shows in /metrics from the start, at 0, so that alerts can use rate() at once.
    for (const stage of Object.keys(timeoutCount) as BridgeStage[]) this.stageTimeouts.inc({ stage }, 0);
  }

  get counts(): Readonly<BridgeCounts> {
    return this.mutable;
  }

  received(count: number): void {
    this.mutable.received += count;
    this.messages.inc({ outcome: 'received' }, count);
  }

  outcome(outcome: 'succeeded' | 'rejected' | 'failed' | 'released' | 'deleteFailed', ms: number): void {
    this.mutable[outcome]++;
    const label = outcome === 'deleteFailed' ? 'delete_failed' : outcome;
    this.messages.inc({ outcome: label });
    this.latency.observe({ outcome: label }, ms / 1000);
  }

  inFlight(delta: number): void {
    this.mutable.inFlight += delta;
    this.inFlightGauge.set(this.mutable.inFlight);
  }

  loopRestarted(): void {
    this.mutable.loopRestarts++;
    this.restarts.inc();
  }

  stageTimedOut(stage: BridgeStage): void {
    this.mutable[timeoutCount[stage]]++;
    this.stageTimeouts.inc({ stage });
  }

  receiveFailed(): void {
    this.mutable.receiveErrors++;
    this.receiveErrorsCounter.inc();
  }
}

/** Serves `registry` at GET /metrics. Resolves once listening; `close` stops it. */
export async function serveMetrics(
  registry: Registry,
  port: number,
  host: string,
): Promise<{ port: number; url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found; metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
