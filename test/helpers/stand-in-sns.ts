/**
 * A stand-in for SNS's Query API on a loopback port, for what the emulators cannot do on demand:
 * answer Publish slowly, or never. Real HTTP, so autoheal's signed Query call, the SDK's HTTP
 * handler and autoheal's bounds all run as they do against AWS. It records every Publish (subject
 * and message attributes) and how many are still unanswered.
 *
 *   const sns = await startStandInSns({ answerAfterMs: 1_200 });   // or { never: true }
 *   try { … AWS_ENDPOINT_URL_SNS: sns.url … } finally { await sns.close(); }
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Published {
  subject: string;
  /** The message attributes, name to string value. */
  attributes: Record<string, string>;
}

export interface StandInSns {
  /** `http://127.0.0.1:PORT`, for AWS_ENDPOINT_URL_SNS. */
  url: string;
  /** Every Publish received, answered or not, in arrival order. */
  readonly published: Published[];
  /** Publishes received and not answered (yet). */
  readonly unanswered: number;
  close(): Promise<void>;
}

const answer = (id: number) =>
  `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>stand-in-${id}</MessageId></PublishResult><ResponseMetadata><RequestId>r-${id}</RequestId></ResponseMetadata></PublishResponse>`;

/** Starts it: each Publish is answered after `answerAfterMs` (default 0), or never. */
export async function startStandInSns(options: { answerAfterMs?: number; never?: boolean } = {}): Promise<StandInSns> {
  const published: Published[] = [];
  const open = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const attributes: Record<string, string> = {};
      for (let i = 1; form.has(`MessageAttributes.entry.${i}.Name`); i++) {
        attributes[form.get(`MessageAttributes.entry.${i}.Name`) as string] = form.get(`MessageAttributes.entry.${i}.Value.StringValue`) ?? '';
      }
      published.push({ subject: form.get('Subject') ?? '', attributes });
      open.add(res);
      res.on('close', () => open.delete(res));
      if (options.never) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        res.writeHead(200, { 'content-type': 'text/xml' }).end(answer(published.length));
      }, options.answerAfterMs ?? 0);
      timers.add(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    published,
    get unanswered() {
      return [...open].filter((r) => !r.writableEnded).length;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        for (const res of open) res.destroy();
        server.close(() => resolve());
      }),
  };
}
