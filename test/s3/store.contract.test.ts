/** The ModelStore contract (test/api/model.store.contract.ts) against the S3 store on a real Ceph radosgw. */
import { beforeAll } from 'vitest';
import { join } from 'node:path';
import { ModelStore } from '../../lib/index.js';
import { tempDir } from '../helpers.js';
import { storeContract } from '../api/model.store.contract.js';
import { makeBucket, sharedCluster, storeOptions } from './cluster.js';

const env = sharedCluster();
const dir = tempDir('h5vault-contract-s3-');
let bucket = '';
beforeAll(async () => {
  bucket = await makeBucket(env, 'contract');
});

storeContract('S3 (Ceph radosgw)', {
  // One cache per store, so no store finds files another one cached.
  open: (sub, create) => ModelStore.open(`s3://${bucket}/${sub}`, { ...storeOptions(env, join(dir, sub)), create }),
});
