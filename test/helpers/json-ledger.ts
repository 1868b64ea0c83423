/**
 * The in-memory ledger, checked: every ledger the healer writes must come back from JSON unchanged
 * (no Dates, no Maps, no class instances, no undefined in arrays), as it must from a table.
 */
import { expect } from 'vitest';
import { memoryLedger, type LedgerPort } from '../../src/healer/ledger.js';

/** A ledger port that fails the test on any write a JSON store could not keep as written. */
export function jsonCheckedLedger(): LedgerPort & { writes: number } {
  const inner = memoryLedger();
  const port = {
    writes: 0,
    read: inner.read,
    write: async (...args: Parameters<LedgerPort['write']>) => {
      const [, ledger] = args;
      expect(JSON.parse(JSON.stringify(ledger))).toEqual(ledger);
      port.writes++;
      return inner.write(...args);
    },
  };
  return port;
}
