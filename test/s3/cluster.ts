/**
 * A real Ceph radosgw for the S3 tests (scripts/dev/s3-cluster.sh). One cluster
 * per vitest run is started by test/s3/global-setup.ts and handed to the
 * files with inject('s3'); a file that kills radosgw starts its own. Tests
 * FAIL (never skip) when ceph is not installed.
 */
import { afterAll, inject } from 'vitest';
import { startCluster, stopCluster, type S3Env } from './cluster-script.js';

export { startCluster, stopCluster, rgwStart, rgwStop, type S3Env } from './cluster-script.js';

declare module 'vitest' {
  export interface ProvidedContext {
    s3: S3Env | null;
  }
}

/** The run's shared cluster, or (run outside the global setup's selection) one of this file's own. */
export function sharedCluster(): S3Env {
  const provided = inject('s3');
  if (provided) return provided;
  const env = startCluster();
  afterAll(() => stopCluster(env));
  return env;
}

/** A cluster of this file's own, stopped after its tests: for tests that kill radosgw. */
export function ownCluster(): S3Env {
  const env = startCluster();
  afterAll(() => stopCluster(env));
  return env;
}

let bucketSeq = 0;
/** Creates a fresh bucket (names unique per process and file). */
export async function makeBucket(env: S3Env, tag = 'b'): Promise<string> {
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const c = clientFor(env, S3Client);
  const name = `h5v-${tag}-${process.pid}-${++bucketSeq}`.toLowerCase();
  await c.send(new CreateBucketCommand({ Bucket: name }));
  c.destroy();
  return name;
}

/** A raw SDK client on the cluster (for tests that act on the server behind the store's back). */
export function clientFor<C>(env: S3Env, S3Client: new (cfg: object) => C): C {
  return new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
  });
}

/** Store options for the cluster. */
export function storeOptions(
  env: S3Env,
  cacheDir: string,
): {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  cacheDir: string;
} {
  return {
    endpoint: env.S3_ENDPOINT,
    region: env.AWS_REGION,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
    cacheDir,
  };
}

/** Byte equality of two typed arrays (toEqual walks a multi-MiB array element by element, for minutes). */
export function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
