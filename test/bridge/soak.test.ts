/**
 * Soak, small: 2,000 messages with 10 % poison through the real CLI (`bridge --local`), SIGKILLed
 * twice and restarted, on a fauxqs queue with a redrive policy. No good message is lost or
 * dead-lettered; every poison message is acknowledged or dead-lettered. The 10,000-message run is
 * `npm run bench -- bridge-soak` (test/bridge/soak.ts is shared).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { requireBuiltCli } from './bridge-cli.js';
import { runSoak } from './soak.js';

beforeAll(requireBuiltCli);

describe('bridge soak', () => {
  it('2,000 messages, 10 % poison, two SIGKILLs: no good message lost or dead-lettered', async () => {
    // Act
    const result = await runSoak({ messages: 2_000, poisonShare: 0.1, kills: 2 });

    // Assess
    expect(result).toMatchObject({ good: 1_800, poison: 200, kills: 2, lostGood: 0, deadLetteredGood: 0, leftOnQueue: 0, lastExitCode: 0 });
    expect(result.poisonAcknowledged + result.poisonDeadLettered).toBe(200);
    expect(result.marks).toBeGreaterThanOrEqual(1_800);
  }, 180_000);
});
