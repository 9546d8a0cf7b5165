import { defineConfig } from 'vitest/config';

/**
 * Two groups, one after the other. The fleet group runs OS processes against one Redis and a simulator and reads
 * what the server received within timed windows: its files run one at a time, so no other test shares the 2
 * cores with them. Everything else (units, property tests, single-process Redis, the CLI, the package) runs two
 * files at a time.
 */
const FLEET = [
  'test/clientsMultiProcess.test.ts',
  'test/closedLoopFleet.test.ts',
  'test/cloudflareLearning.test.ts',
  'test/clusterFailover.test.ts',
  'test/errorActionsFleet.test.ts',
  'test/kucoinNodeSdk.test.ts',
  'test/multiProcess.test.ts',
  'test/processKill.test.ts',
  'test/proxyFleet.test.ts',
  'test/redisOutage.test.ts',
  'test/redisStartup.test.ts',
  'test/resilientLease.test.ts',
  'test/sharedIp.test.ts',
  'test/signals.test.ts',
  'test/soak.test.ts',
  'test/wsMultiProcess.test.ts',
  'test/wsPartition.test.ts',
  'test/wsSdkMultiProcess.test.ts',
];

export default defineConfig({
  test: {
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'parallel', include: ['test/**/*.test.ts'], exclude: FLEET, maxWorkers: 2, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'fleet', include: FLEET, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
