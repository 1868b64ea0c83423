import { createReadStream } from 'node:fs';
import { ConfigError, describeError } from '../errors.js';

/** The largest event accepted from a file or stdin; larger than any SQS (1 MiB) or SNS payload. */
export const maxInputBytes = 4 * 1024 * 1024;

function tooLarge(name: string): ConfigError {
  return new ConfigError(
    `${name}: larger than ${maxInputBytes / 1024 / 1024} MiB (${maxInputBytes} bytes), the most autoheal reads of one event; ` +
      'give one event (a message body, an SNS or Lambda event), not a log, an archive or a device',
  );
}

/**
 * Reads a stream to its end, or throws as soon as it passes {@link maxInputBytes}: at most that
 * much (plus one chunk) is ever read, so /dev/zero or a 1.5 GB file fails at once instead of
 * filling memory. Leaving the loop early destroys the stream.
 */
async function readCapped(input: AsyncIterable<unknown>, name: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > maxInputBytes) throw tooLarge(name);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Reads one event's text from a file, or from stdin when `file` is `-` or omitted: the one
 * reader of files and stdin for every command. Throws {@link ConfigError} with a message that
 * says what was wrong; parsing is the core's job.
 */
export async function readEventText(file: string | undefined, stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  if (file !== undefined && file !== '-') {
    try {
      return await readCapped(createReadStream(file, { highWaterMark: 64 * 1024 }), file);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError(`cannot read ${file}: ${describeError(error)}`, { cause: error });
    }
  }
  if ('isTTY' in stdin && stdin.isTTY) {
    throw new ConfigError('no input: give a FILE, or pipe the event on stdin (`autoheal explain - < event.json`)');
  }
  return readCapped(stdin, 'stdin');
}
