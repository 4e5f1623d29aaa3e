import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Separate processes: a native crash fails one file, not the run, and
    // the addon is loaded fresh per file.
    pool: 'forks',
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
    // The suite may run on Node 20 (this machine's Node): the AWS SDK would print its
    // 7-line "will require node >=22" warning on every S3 use. Its own switch, tests only.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    // One Ceph radosgw for the run's S3 tests (started only if test/s3 files are selected).
    // The addon and dist/ must be built from the current sources (test/global-fresh-build.ts).
    globalSetup: ['test/global-fresh-build.ts', 'test/s3/global-setup.ts'],
  },
});
