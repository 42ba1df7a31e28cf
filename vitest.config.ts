import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (everything but `*.int.test.ts`, no I/O) and `integration` (`*.int.test.ts`, against one
 * DynamoDB Local that the integration project's global setup starts on a free port only when such a file is
 * selected, so unit-only runs stay fast).
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/**/*.int.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.int.test.ts'],
          globalSetup: ['test/support/dynamodb-global-setup.ts'],
        },
      },
    ],
  },
});
