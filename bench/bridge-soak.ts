/**
 * Soak of the bridge (test/bridge/soak.ts): `messages` on a fauxqs queue with a redrive policy,
 * 10 % poison (malformed bodies), the real CLI `autoheal bridge --local` marking each alarm's
 * instance through a local Auto Scaling endpoint, SIGKILLed twice while it works and restarted
 * each time. It checks what must hold — no good message lost or dead-lettered, every poison message
 * acknowledged or dead-lettered — and exits 1 otherwise. Baseline, in the same run: the same
 * messages with no kill; the ratio is what the two kills cost in time (the in-flight messages of a
 * killed process come back only after the visibility timeout, 5 s).
 *
 *   npx tsx bench/bridge-soak.ts [messages] [kills]   (default 10000, 2; `npm run build` first)
 *   npm run bench -- bridge-soak
 */
import { runSoak, type SoakResult } from '../test/bridge/soak.js';
import { requireBuiltCli } from '../test/bridge/bridge-cli.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const messages = Math.max(100, Number(process.argv[2] ?? 10_000));
const kills = Math.max(0, Number(process.argv[3] ?? 2));
requireBuiltCli();

function line(name: string, r: SoakResult): string {
  return (
    `${name.padEnd(9)} ${(r.durationMs / 1000).toFixed(1)} s, ${Math.round(((r.good + r.poison) * 1000) / r.durationMs)} msg/s; ` +
    `good ${r.good}: lost ${r.lostGood}, dead-lettered ${r.deadLetteredGood}; poison ${r.poison}: acknowledged ${r.poisonAcknowledged}, ` +
    `dead-lettered ${r.poisonDeadLettered}; marks ${r.marks} (${(r.marks / r.good).toFixed(3)} per good message); left on queue ${r.leftOnQueue}`
  );
}

const baseline = await runSoak({ messages, kills: 0 });
const soak = await runSoak({ messages, kills });
console.log(`bridge soak: ${messages} messages, 10 % poison, ${kills} SIGKILLs of \`autoheal bridge --local\` (restarted each time), fauxqs with a redrive policy (maxReceiveCount 5)`);
console.log(line('no kill', baseline));
console.log(line(`${kills} kills`, soak));
console.log(`ratio ${kills} kills / no kill: time ${(soak.durationMs / baseline.durationMs).toFixed(2)}x, marks per good message ${(soak.marks / soak.good / (baseline.marks / baseline.good)).toFixed(3)}x`);
const ok = (r: SoakResult): boolean => r.lostGood === 0 && r.deadLetteredGood === 0 && r.leftOnQueue === 0 && r.poisonAcknowledged + r.poisonDeadLettered === r.poison;
if (!ok(baseline) || !ok(soak)) {
  console.error('FAILED: a good message was lost or dead-lettered, or poison was left on the queue');
  process.exit(1);
}
