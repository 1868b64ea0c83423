/**
 * Bounded input and output of the CLI: at most 4 MiB read from any file, device or stdin before
 * the size error, and at most `maxItemsPerEvent` rejections listed per event, with a count of
 * the rest; `history --file` bounded in total and per line; `pause` refusing a time already past.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, ftruncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { renderHealReport } from '../../src/cli/commands/heal.js';
import { maxInputBytes, readEventText } from '../../src/cli/input.js';
import { capList, maxItemsPerEvent } from '../../src/log.js';
import { parseEvent } from '../../src/signals/index.js';
import { maxHistoryFileBytes, readDecisionsFile } from '../../src/operate/history.js';
import { isolatedAwsEnv, runCli } from '../helpers/cli.js';

const scratch = mkdtempSync(join(tmpdir(), 'autoheal-bounds-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Bytes this process has read through read(2) and friends so far (Linux /proc/self/io `rchar`). */
function bytesReadByThisProcess(): number {
  const line = readFileSync('/proc/self/io', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('rchar:'));
  return Number(line?.split(':')[1]);
}

/** A body of `count` records that each yield one rejection. */
const millionRecords = (count: number): string => JSON.stringify({ Records: Array.from({ length: count }, () => ({})) });

describe('bounded input', () => {
  it('`autoheal explain /dev/zero` exits 2 with the size error', async () => {
    // Act
    const { code, stdout, stderr } = await runCli(['explain', '/dev/zero']);

    // Assess
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^autoheal: \/dev\/zero: larger than 4 MiB \(4194304 bytes\), the most autoheal reads of one event/);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('stops reading a 1.5 GB file after 4 MiB', async () => {
    // Prepare: sparse, so it costs no disk.
    const file = join(scratch, 'huge.json');
    const fd = openSync(file, 'w');
    ftruncateSync(fd, 1.5e9);
    closeSync(fd);
    const before = bytesReadByThisProcess();

    // Act
    const error = await readEventText(file).catch((e: unknown) => e);

    // Assess
    expect(String(error)).toMatch(/huge\.json: larger than 4 MiB/);
    expect(bytesReadByThisProcess() - before).toBeLessThan(4 * maxInputBytes);
  });

  it('stops reading an endless stdin after 4 MiB', async () => {
    // Prepare: a stream that makes its data only when asked, and counts what was asked.
    let pulledBytes = 0;
    const endless = new Readable({
      read() {
        pulledBytes += 64 * 1024;
        this.push(Buffer.alloc(64 * 1024, 0x20));
      },
    });

    // Act
    const error = await readEventText('-', endless).catch((e: unknown) => e);

    // Assess
    expect(String(error)).toMatch(/stdin: larger than 4 MiB/);
    expect(pulledBytes).toBeLessThan(2 * maxInputBytes);
    expect(endless.destroyed).toBe(true);
  });
});

describe('bounded output', () => {
  it('capList keeps the first items and counts the rest', () => {
    expect(capList([1, 2, 3], 2)).toEqual({ items: [1, 2], omitted: 1 });
    expect(capList([1, 2], 2)).toEqual({ items: [1, 2], omitted: 0 });
    expect(capList([], 2)).toEqual({ items: [], omitted: 0 });
    expect(capList(Array.from({ length: 1_000 }, (_, i) => i)).items).toHaveLength(maxItemsPerEvent);
  });

  it('`autoheal explain` lists at most maxItemsPerEvent rejections of a million records, and counts the others', async () => {
    // Act
    const { code, stdout } = await runCli(['explain', '-'], { stdin: millionRecords(1_000_000) });

    // Assess
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as { rejected: Array<{ reason: string }>; rejectedOmitted: number };
    expect(report.rejected).toHaveLength(maxItemsPerEvent);
    expect(report.rejected[0]?.reason).toMatch(/^Records\[0\]: /);
    expect(report.rejectedOmitted).toBe(1_000_000 - maxItemsPerEvent);
    expect(stdout.length).toBeLessThan(64 * 1024);
  });

  it('`autoheal heal` prints at most maxItemsPerEvent rejections, and counts the others', () => {
    // Prepare
    const parsed = parseEvent(millionRecords(5_000));

    // Act
    const { output, exitCode } = renderHealReport({ ...parsed, verdicts: [], failedRecordIds: [], retry: false });

    // Assess
    expect(exitCode).toBe(1);
    const out = JSON.parse(output) as { rejected: unknown[]; rejectedOmitted: number };
    expect(out.rejected).toHaveLength(maxItemsPerEvent);
    expect(out.rejectedOmitted).toBe(5_000 - maxItemsPerEvent);
  });
});

describe('bounded history and pause', () => {
  it('`autoheal history --file /dev/zero` exits 2 at the line bound (no newline in a megabyte: not a log)', async () => {
    // Act
    const { code, stdout, stderr } = await runCli(['history', '--file', '/dev/zero']);

    // Assess
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^autoheal history: --file \/dev\/zero: a line longer than 1048576 bytes; give a decisions file \(JSON lines/);
  });

  it('history stops reading a file past its total bound, however short its lines', async () => {
    // Prepare: 2000 short lines, against a bound of 4 KiB.
    const file = join(scratch, 'long.log');
    writeFileSync(file, `${'{"msg":"other"}\n'.repeat(2_000)}`);
    const filter = { sinceMs: 0, untilMs: Number.MAX_SAFE_INTEGER };

    // Act
    const error = await readDecisionsFile(file, filter, { maxBytes: 4_096, maxLineBytes: 1_024 }).catch((e: unknown) => e);

    // Assess
    expect(String(error)).toMatch(/long\.log: larger than 4096 bytes, the most history reads/);
    expect(await readDecisionsFile(file, filter)).toEqual([]);
    expect(maxHistoryFileBytes).toBe(256 * 1024 * 1024);
  });

  it('`autoheal pause GROUP --for 0s` exits 2 before any AWS call, and says why', async () => {
    const { code, stdout, stderr } = await runCli(['pause', 'workers', '--for', '0s'], { env: isolatedAwsEnv({ AWS_ENDPOINT_URL: 'http://127.0.0.1:9' }) });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe('autoheal pause: --for: must be longer than 0, got "0s" (a pause that has already ended pauses nothing)\n');
  });
});
