/**
 * A real Ceph cluster (scripts/s3-cluster.sh) for the lazy-remote-read tests:
 * started once per test file, stopped after it. Tests FAIL, not skip, when Ceph
 * is missing (the script says which package). Asynchronous: starting radosgw
 * takes seconds, and the test worker's event loop must keep answering vitest.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Client, CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';

const SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts/s3-cluster.sh');
const run = promisify(execFile);
const script = async (cmd: string, dir: string, timeout: number) => (await run('bash', [SCRIPT, cmd, dir], { encoding: 'utf8', timeout })).stdout;

export interface Cluster {
  dir: string;
  env: { S3_ENDPOINT: string; AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string; AWS_REGION: string };
  client: S3Client;
  /** Options for File.open with this cluster's endpoint and keys. */
  options: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  put(bucket: string, key: string, body: Uint8Array): Promise<void>;
  bucket(name: string): Promise<void>;
  rgwStop(): Promise<void>;
  rgwStart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startCluster(): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'h5vault-s3-'));
  const out = await script('start', dir, 120_000);
  const env: Record<string, string> = {};
  for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) env[m[1]!] = m[2]!;
  const e = env as unknown as Cluster['env'];
  const options = {
    endpoint: e.S3_ENDPOINT, region: e.AWS_REGION,
    credentials: { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: e.AWS_SECRET_ACCESS_KEY },
  };
  const client = new S3Client({ ...options, forcePathStyle: true });
  return {
    dir, env: e, client, options,
    async bucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async put(bucket, key, body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    rgwStop: async () => void (await script('rgw-stop', dir, 60_000)),
    rgwStart: async () => void (await script('rgw-start', dir, 120_000)),
    async stop() {
      client.destroy();
      try {
        await script('stop', dir, 60_000);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
