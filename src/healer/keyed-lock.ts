/**
 * Runs work one at a time per key, in arrival order, across any number of concurrent callers in
 * this process. The healer serializes decide-and-mark per group with it, so a group's budget,
 * rate limit and holds see every earlier mark — whoever made it. Keys with nothing queued are
 * forgotten, so the map stays as large as the groups being worked on.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with work running or queued. */
  get size(): number {
    return this.tails.size;
  }
}
