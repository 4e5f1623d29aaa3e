import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Separate processes: a native crash fails one file, not the run, and
    // the addon is loaded fresh per file.
    pool: 'forks',
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    // One Ceph radosgw for the run's S3 tests (started only if test/s3 files are selected).
    globalSetup: ['test/s3/global-setup.ts'],
  },
});
