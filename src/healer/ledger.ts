/**
 * Where the rails' memory lives: one {@link GroupLedger} per group (src/policy/ledger.ts), read
 * before a group's signals are decided and committed after, through one loop (./commit.ts), by
 * the protocol of ./group-batch.ts (reserve, then act).
 *
 * The port is shaped for a shared store — a table with one item per group, changed only by
 * conditional writes on a version (src/runtime/dynamodb-ledger.ts) — so that a decision made in a
 * fresh process per event equals the one made in a warm process. This file has the in-memory
 * ledger: the memory of one process. It keeps the values themselves (no copy: the reducers never change a value, they make
 * a new one), so reading it costs nothing; that every value survives JSON, as it must in a
 * table, the healer's tests check on each write (test/helpers/json-ledger.ts).
 */
import { RemoteError } from '../errors.js';
import { emptyLedger, type GroupLedger } from '../policy/ledger.js';

/** A group's ledger as read, with the version a write must match. */
export interface LedgerEntry {
  ledger: GroupLedger;
  /** 0 for a group never written. */
  version: number;
}

export interface LedgerPort {
  /** The group's ledger and its version (an empty ledger at version 0 for a group never written). */
  read(groupName: string, signal?: AbortSignal): Promise<LedgerEntry>;
  /** Writes the group's ledger if it is still at `version`; rejects with {@link LedgerConflictError} when another writer came first. */
  write(groupName: string, ledger: GroupLedger, version: number, signal?: AbortSignal): Promise<void>;
}

/**
 * The ledger key of a group's dry run: a dry run keeps rails of its own (what it would have
 * marked counts for its own later decisions) and never spends a live healer's budget.
 */
export function dryRunLedgerKey(groupName: string): string {
  return `dry-run#${groupName}`;
}

/** Another writer changed the group's ledger since it was read: decide again from a fresh read. */
export class LedgerConflictError extends RemoteError {
  override readonly name: string = 'LedgerConflictError';
  constructor(groupName: string, expected: number, found?: number, action = 'ledger:write') {
    super(action, `the rails' ledger of group ${groupName} changed since it was read (version ${expected}${found !== undefined ? `, now ${found}` : ''})`, { retryable: true });
  }
}

/** The in-memory ledger with its size, for tests. */
export interface MemoryLedger extends LedgerPort {
  /** Groups with an entry. */
  readonly size: number;
}

/**
 * The ledger of this process. Bounded: beyond `maxGroups` entries the least recently written go
 * first. An entry a group needs again starts empty, as in a fresh process: its rate window, holds
 * and votes are forgotten; the fleet's own view still counts every Unhealthy instance in the budget.
 */
export function memoryLedger(options: { maxGroups?: number } = {}): MemoryLedger {
  const maxGroups = options.maxGroups ?? 10_000;
  const entries = new Map<string, LedgerEntry>();
  return {
    read: async (groupName) => entries.get(groupName) ?? { ledger: emptyLedger, version: 0 },
    write: async (groupName, ledger, version) => {
      const found = entries.get(groupName)?.version ?? 0;
      if (found !== version) throw new LedgerConflictError(groupName, version, found);
      // Re-inserted so that Map order stays least recently written first.
      entries.delete(groupName);
      entries.set(groupName, { ledger, version: version + 1 });
      for (const key of entries.keys()) {
        if (entries.size <= maxGroups) break;
        entries.delete(key);
      }
    },
    get size() {
      return entries.size;
    },
  };
}
