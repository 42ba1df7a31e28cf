import { defineConfig } from 'vitest/config';

/**
 * `npm run test:reliability`: the long reliability suite (test/reliability/*.reliability.ts), kept out of `npm test`
 * by its file names. One DynamoDB Local for the run (the integration project's global setup); files one after
 * another, since each already loads both cores. The fast part (test/integration/reliability-fast*.int.test.ts)
 * runs in `npm test`.
 */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.reliability.ts'],
    globalSetup: ['test/support/dynamodb-global-setup.ts'],
    fileParallelism: false,
    testTimeout: 60 * 60_000,
    hookTimeout: 5 * 60_000,
  },
});
