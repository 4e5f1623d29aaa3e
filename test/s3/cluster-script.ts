/**
 * The one Ceph harness of the tests (test/s3 and test/remote): scripts/dev/s3-cluster.sh
 * from tests: start, stop, crash and restart radosgw. Synchronous for the global
 * setup, asynchronous for test workers (whose event loop must keep answering vitest
 * while radosgw starts). No vitest import here: test/s3/global-setup.ts runs
 * outside the test workers.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../scripts/dev/s3-cluster.sh', import.meta.url));

export interface S3Env {
  S3_ENDPOINT: string;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  AWS_REGION: string;
  S3_CLUSTER_DIR: string;
}

function parseEnv(text: string): S3Env {
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/^export (\w+)=(.*)$/gm)) env[m[1]!] = m[2]!;
  for (const k of ['S3_ENDPOINT', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION', 'S3_CLUSTER_DIR'])
    if (!env[k]) throw new Error(`scripts/dev/s3-cluster.sh printed no ${k}:\n${text}`);
  return env as unknown as S3Env;
}

function startFailure(e: unknown): Error {
  const err = e as { stderr?: string; message: string };
  return new Error(
    `cannot start the Ceph S3 cluster (install ceph-mon ceph-osd radosgw: bash scripts/dev/bootstrap.sh): ${err.stderr ?? err.message}`,
  );
}

/** Starts a cluster in a fresh directory (20 s at most, usually 5-18 s). Throws with the script's message if ceph is missing. */
export function startCluster(): S3Env {
  const dir = mkdtempSync(join(tmpdir(), 'h5vault-s3-'));
  try {
    return parseEnv(
      execFileSync('bash', [script, 'start', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
    );
  } catch (e) {
    throw startFailure(e);
  }
}

const run = promisify(execFile);
const scriptAsync = async (cmd: string, dir: string, timeout: number): Promise<string> =>
  (await run('bash', [script, cmd, dir], { encoding: 'utf8', timeout })).stdout;

/** startCluster without blocking the event loop. */
export async function startClusterAsync(): Promise<S3Env> {
  const dir = mkdtempSync(join(tmpdir(), 'h5vault-s3-'));
  try {
    return parseEnv(await scriptAsync('start', dir, 120_000));
  } catch (e) {
    throw startFailure(e);
  }
}

/** stopCluster, rgwStop and rgwStart without blocking the event loop. */
export const clusterAsync = {
  stop: async (env: S3Env): Promise<void> => {
    try {
      await scriptAsync('stop', env.S3_CLUSTER_DIR, 60_000);
    } finally {
      rmSync(env.S3_CLUSTER_DIR, { recursive: true, force: true });
    }
  },
  rgwStop: async (env: S3Env): Promise<void> => void (await scriptAsync('rgw-stop', env.S3_CLUSTER_DIR, 60_000)),
  rgwStart: async (env: S3Env): Promise<void> => void (await scriptAsync('rgw-start', env.S3_CLUSTER_DIR, 120_000)),
};

export function stopCluster(env: S3Env, remove = true): void {
  execFileSync('bash', [script, 'stop', env.S3_CLUSTER_DIR], { stdio: 'ignore' });
  if (remove) rmSync(env.S3_CLUSTER_DIR, { recursive: true, force: true });
}

/** SIGKILLs radosgw (a crashed gateway). */
export function rgwStop(env: S3Env): void {
  execFileSync('bash', [script, 'rgw-stop', env.S3_CLUSTER_DIR], { stdio: 'ignore' });
}

/** Starts radosgw again and waits until it answers. */
export function rgwStart(env: S3Env): void {
  execFileSync('bash', [script, 'rgw-start', env.S3_CLUSTER_DIR], { stdio: 'ignore' });
}
