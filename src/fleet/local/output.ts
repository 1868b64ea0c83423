/**
 * An instance's last output lines: a bounded ring of what its process wrote on stdout and stderr,
 * so a replaced instance leaves its evidence behind (issue 16: "why did it die?"). Bounded twice:
 * at most `capacity` lines, each at most {@link maxLineChars}, so a chatty or binary-spewing
 * process costs the group a fixed amount of memory.
 */

/** A longer line is cut here, and marked so. */
export const maxLineChars = 1_000;

type Stream = 'stdout' | 'stderr';

export class OutputRing {
  private readonly ring: string[] = [];
  /** Each stream's line so far, not yet ended by a newline. */
  private readonly partial: Record<Stream, string> = { stdout: '', stderr: '' };

  constructor(private readonly capacity: number) {}

  /** Adds a chunk of one stream; complete lines enter the ring, the rest waits for its newline. */
  write(stream: Stream, chunk: string): void {
    const text = this.partial[stream] + chunk;
    let start = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      this.add(text.slice(start, end));
      start = end + 1;
    }
    let rest = text.slice(start);
    // A line that never ends must not grow without bound: it enters the ring cut.
    if (rest.length > maxLineChars) {
      this.add(rest);
      rest = '';
    }
    this.partial[stream] = rest;
  }

  /** The process is gone: what it wrote without a final newline counts as a line too. */
  end(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream] !== '') this.add(this.partial[stream]);
      this.partial[stream] = '';
    }
  }

  /** The lines, oldest first. */
  lines(): string[] {
    return [...this.ring];
  }

  private add(raw: string): void {
    if (this.capacity === 0) return;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    this.ring.push(line.length > maxLineChars ? `${line.slice(0, maxLineChars)}… (cut at ${maxLineChars} characters)` : line);
    if (this.ring.length > this.capacity) this.ring.shift();
  }
}
