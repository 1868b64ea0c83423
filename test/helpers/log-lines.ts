/** A real pino logger whose JSON lines a test can read back. */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export function capturedLogger(level: 'info' | 'debug' = 'info'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}
