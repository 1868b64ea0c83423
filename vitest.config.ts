import { defineConfig } from 'vitest/config';

/**
 * The pure core: no SDK, no I/O, no clock, so every line is reachable from a unit test. The loops'
 * transition functions join it as `machine.ts` files, wherever they live (the prober's machine
 * keeps its vocabulary, verdict and round stages in rooms beside it).
 */
const pureCore = ['src/signals/**', 'src/policy/**', 'src/**/machine.ts', 'src/prober/{state,verdict,round,reach}.ts'];

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end tests run real processes and servers; two cores are all we have.
    maxWorkers: 2,
    // Off unless asked for (`npm test` passes --coverage): the thresholds judge the whole suite, and a
    // run of one area would fail them.
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'html'],
      thresholds: {
        // The whole tree as measured when the gate came in (78.78 %), rounded down: raise it as coverage
        // rises, never lower it. The CLI and the bundles run in child processes, which coverage of the
        // test process does not see.
        lines: 78,
        ...Object.fromEntries(pureCore.map((glob) => [glob, { lines: 100 }])),
      },
    },
  },
});
