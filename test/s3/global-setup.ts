/**
 * vitest globalSetup: one Ceph cluster for every S3 test file of the run
 * (starting one costs 5-20 s), started only when the run includes a file
 * under test/s3/ (a targeted run of other files does not pay for it).
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { startCluster, stopCluster } from './cluster-script.js';
import type {} from './cluster.js'; // the type of provide('s3')

const VALUE_FLAGS = new Set([
  '--exclude',
  '--reporter',
  '--project',
  '--config',
  '-c',
  '--pool',
  '-t',
  '--testNamePattern',
  '--root',
  '-r',
  '--dir',
  '--shard',
  '--outputFile',
  '--environment',
]);

function selected(): boolean {
  const dir = fileURLToPath(new URL('.', import.meta.url));
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => `test/s3/${f}`);
  const i = process.argv.findIndex(
    (a) => a === 'run' || a === 'watch' || a.endsWith('vitest.mjs') || a.endsWith('/vitest'),
  );
  const filters: string[] = [];
  const args = process.argv.slice(i + 1);
  for (let k = 0; k < args.length; k++) {
    const a = args[k]!;
    if (a.startsWith('-')) {
      const [flag, inline] = a.split('=', 2) as [string, string | undefined];
      const value = inline ?? (VALUE_FLAGS.has(flag) ? args[++k] : undefined); // the flag's value is not a file filter
      if (flag === '--exclude' && value && /^(\.\/)?test\/s3(\/|$)/.test(value)) return false; // every S3 file is excluded
    } else if (a !== 'run' && a !== 'watch') filters.push(a);
  }
  if (filters.length === 0) return true;
  return filters.some((f) => files.some((p) => p.includes(f.replace(/^\.\//, ''))));
}

export default function setup(project: TestProject): (() => void) | undefined {
  if (!selected()) {
    project.provide('s3', null);
    return undefined;
  }
  const env = startCluster();
  project.provide('s3', env);
  return () => stopCluster(env);
}
