/**
 * The healer's memory of its own recent marks: for the duplicate check, and so that a mark the
 * fleet's view does not show yet still counts against the group's budget. Bounded: entries older
 * than the window are dropped, and beyond `maxEntries` the oldest go first.
 */
export class RecentMarks {
  private readonly marks = new Map<string, { atMs: number; groupName: string }>();

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  /** Whether the instance was marked within the window before `nowMs`. */
  has(instanceId: string, nowMs: number): boolean {
    const mark = this.marks.get(instanceId);
    return mark !== undefined && nowMs - mark.atMs < this.windowMs;
  }

  add(instanceId: string, groupName: string, nowMs: number): void {
    // Re-insert so that Map order stays oldest-first.
    this.marks.delete(instanceId);
    this.marks.set(instanceId, { atMs: nowMs, groupName });
    this.prune(nowMs);
  }

  /** Ids of the group's instances marked within the window. */
  inGroup(groupName: string, nowMs: number): string[] {
    const ids: string[] = [];
    for (const [id, mark] of this.marks) if (mark.groupName === groupName && nowMs - mark.atMs < this.windowMs) ids.push(id);
    return ids;
  }

  get size(): number {
    return this.marks.size;
  }

  private prune(nowMs: number): void {
    for (const [id, mark] of this.marks) {
      if (this.marks.size <= this.maxEntries && nowMs - mark.atMs < this.windowMs) break;
      this.marks.delete(id);
    }
  }
}
