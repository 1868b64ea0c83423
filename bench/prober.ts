/**
 * Prober at scale: 1,000 and 5,000 HTTP targets on loopback, checked every 5 s for a few
 * intervals. Measured in this process: CPU used (process.cpuUsage) and the worst lateness of a
 * check against its schedule (start + phase + k × interval). The targets are served by a child
 * process (one tiny HTTP server per port), so its CPU is not counted.
 *
 * Baseline, in the same run: a naive loop issuing the same requests (same check function, same
 * agent settings, same random phases, same concurrency limit), where each target sleeps one
 * interval after its check ends, which is how such loops are usually written.
 *
 *   npx tsx bench/prober.ts [intervals]      (default 3 intervals of 5 s per run; mind `ulimit -n`)
 */
import { spawn } from 'node:child_process';
import { Agent } from 'node:http';
import { createInterface } from 'node:readline';
import { httpCheck } from '../src/prober/checks.js';
import type { ProbeTarget } from '../src/prober/options.js';
import { startProber } from '../src/prober/prober.js';

const intervalMs = 5_000;
const timeoutMs = 2_000;
const concurrency = 256;
const intervals = Math.max(2, Number(process.argv[2] ?? 3));
const sizes = [1_000, 5_000];

/** Starts a child serving GET on `count` loopback ports; resolves with the ports and a stop function. */
async function startTargets(count: number): Promise<{ ports: number[]; stop: () => Promise<void> }> {
  const code = `
    const http = require('node:http');
    const count = Number(process.argv[1]);
    const handler = (req, res) => { res.writeHead(200, { connection: 'close' }).end('ok'); };
    let ready = 0; const ports = [];
    for (let i = 0; i < count; i++) {
      const s = http.createServer(handler);
      s.listen(0, '127.0.0.1', () => { ports.push(s.address().port); if (++ready === count) process.stdout.write(JSON.stringify(ports) + '\\n'); });
    }
    process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`;
  const child = spawn(process.execPath, ['-e', code, String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', (l) => {
      rl.close();
      resolve(l);
    });
    child.once('exit', (c) => reject(new Error(`target server exited (${c}); is ulimit -n high enough?`)));
  });
  return {
    ports: JSON.parse(line) as number[],
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end();
      }),
  };
}

interface Figures {
  cpuMs: number;
  checks: number;
  failures: number;
  worstLatenessMs: number;
  meanLatenessMs: number;
}

async function runProber(targets: ProbeTarget[]): Promise<Figures> {
  const cpu = process.cpuUsage();
  const prober = startProber(
    { intervalMs, timeoutMs, concurrency, jitterMs: intervalMs, unhealthyThreshold: 2, healthyThreshold: 2 },
    { sink: async () => {}, targets },
  );
  await new Promise((resolve) => setTimeout(resolve, intervals * intervalMs));
  const stats = prober.stats();
  await prober.stop();
  const used = process.cpuUsage(cpu);
  return {
    cpuMs: (used.user + used.system) / 1000,
    checks: stats.checks,
    failures: stats.failures,
    worstLatenessMs: stats.maxLatenessMs,
    meanLatenessMs: stats.meanLatenessMs,
  };
}

/** The naive loop: per target, check, then sleep an interval; a shared semaphore of `concurrency`. */
async function runBaseline(targets: ProbeTarget[]): Promise<Figures> {
  const cpu = process.cpuUsage();
  const agent = new Agent({ keepAlive: false, maxSockets: concurrency, maxTotalSockets: concurrency });
  const startMs = performance.now();
  const endMs = startMs + intervals * intervalMs;
  let running = 0;
  const queue: Array<() => void> = [];
  const acquire = (): Promise<void> =>
    running < concurrency ? (running++, Promise.resolve()) : new Promise<void>((resolve) => queue.push(resolve));
  const release = (): void => {
    const next = queue.shift();
    if (next) next();
    else running--;
  };
  const f: Figures = { cpuMs: 0, checks: 0, failures: 0, worstLatenessMs: 0, meanLatenessMs: 0 };
  let latenessSum = 0;
  const timers = new Set<NodeJS.Timeout>();
  const loops = targets.map(
    (t) =>
      new Promise<void>((done) => {
        const phaseMs = Math.random() * intervalMs;
        let k = 0;
        const run = async (): Promise<void> => {
          await acquire();
          const due = startMs + phaseMs + k * intervalMs;
          const lateness = Math.max(0, performance.now() - due);
          const result = await httpCheck({ host: t.host, port: t.port, path: '/health', expectedStatus: 200 }, timeoutMs, agent);
          release();
          f.checks++;
          if (!result.ok) f.failures++;
          latenessSum += lateness;
          if (lateness > f.worstLatenessMs) f.worstLatenessMs = lateness;
          k++;
          if (performance.now() + intervalMs >= endMs) return done();
          const timer = setTimeout(() => {
            timers.delete(timer);
            void run();
          }, intervalMs);
          timers.add(timer);
        };
        const timer = setTimeout(() => {
          timers.delete(timer);
          void run();
        }, phaseMs);
        timers.add(timer);
      }),
  );
  await Promise.race([Promise.all(loops), new Promise((resolve) => setTimeout(resolve, intervals * intervalMs + timeoutMs))]);
  for (const timer of timers) clearTimeout(timer);
  agent.destroy();
  const used = process.cpuUsage(cpu);
  f.cpuMs = (used.user + used.system) / 1000;
  f.meanLatenessMs = f.checks > 0 ? latenessSum / f.checks : 0;
  return f;
}

const line = (name: string, f: Figures): string =>
  `  ${name.padEnd(9)} checks ${String(f.checks).padStart(6)} (failed ${f.failures})  CPU ${f.cpuMs.toFixed(0).padStart(6)} ms ` +
  `(${(f.cpuMs / f.checks).toFixed(3)} ms/check)  lateness worst ${f.worstLatenessMs.toFixed(1).padStart(7)} ms, mean ${f.meanLatenessMs.toFixed(2)} ms`;

console.log(`prober: HTTP targets on loopback, every ${intervalMs} ms for ${intervals} intervals, concurrency ${concurrency}, random phases`);
for (const size of sizes) {
  const server = await startTargets(size);
  const targets = server.ports.map((port, i) => ({ instanceId: `i-${String(i).padStart(17, '0')}`, host: '127.0.0.1', port }));
  try {
    // Baseline first, then the prober, each on its own (they would compete for the CPU together).
    const baseline = await runBaseline(targets);
    const prober = await runProber(targets);
    console.log(`${size} targets`);
    console.log(line('baseline', baseline));
    console.log(line('prober', prober));
    console.log(
      `  prober / baseline: CPU per check ${((prober.cpuMs / prober.checks) / (baseline.cpuMs / baseline.checks)).toFixed(2)}x, ` +
        `worst lateness ${(prober.worstLatenessMs / Math.max(0.001, baseline.worstLatenessMs)).toFixed(2)}x`,
    );
  } finally {
    await server.stop();
  }
}
