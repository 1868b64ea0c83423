import { readFile } from 'node:fs/promises';
import { describeError } from '../errors.js';
import { ConfigError } from '../errors.js';

/** The largest event accepted from a file or stdin; larger than any SQS (1 MiB) or SNS payload. */
export const maxInputBytes = 4 * 1024 * 1024;

/**
 * Reads one event's text from a file, or from stdin when `file` is `-` or omitted.
 * Throws {@link ConfigError} with a message that says what was wrong; parsing is the core's job.
 */
export async function readEventText(file: string | undefined, stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  if (file !== undefined && file !== '-') {
    try {
      const data = await readFile(file);
      if (data.length > maxInputBytes) throw new ConfigError(`${file}: larger than ${maxInputBytes} bytes`);
      return data.toString('utf8');
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError(`cannot read ${file}: ${describeError(error)}`, { cause: error });
    }
  }
  if ('isTTY' in stdin && stdin.isTTY) {
    throw new ConfigError('no input: give a FILE, or pipe the event on stdin (`autoheal explain - < event.json`)');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > maxInputBytes) throw new ConfigError(`stdin: larger than ${maxInputBytes} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
