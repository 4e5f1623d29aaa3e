/**
 * A real Ceph cluster for the lazy-remote-read tests: started once per test file,
 * stopped after it, through the one harness (test/s3/cluster-script.ts). Tests FAIL,
 * not skip, when Ceph is missing (the script says which package). Asynchronous:
 * starting radosgw takes seconds, and the test worker's event loop must keep
 * answering vitest.
 */
import { S3Client, CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { clusterAsync, startClusterAsync, type S3Env } from '../s3/cluster-script.js';

export interface Cluster {
  dir: string;
  env: S3Env;
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
  const e = await startClusterAsync();
  const options = {
    endpoint: e.S3_ENDPOINT,
    region: e.AWS_REGION,
    credentials: { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: e.AWS_SECRET_ACCESS_KEY },
  };
  const client = new S3Client({ ...options, forcePathStyle: true });
  return {
    dir: e.S3_CLUSTER_DIR,
    env: e,
    client,
    options,
    async bucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async put(bucket, key, body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    rgwStop: () => clusterAsync.rgwStop(e),
    rgwStart: () => clusterAsync.rgwStart(e),
    async stop() {
      client.destroy();
      await clusterAsync.stop(e);
    },
  };
}
