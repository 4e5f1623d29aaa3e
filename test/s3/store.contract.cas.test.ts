/** The ModelStore contract (test/api/model.store.contract.ts) against the S3 store's content-addressed layout (layout: 'tensors') on a real Ceph radosgw. */
import { beforeAll } from 'vitest';
import { join } from 'node:path';
import { ModelStore } from '../../lib/index.js';
import { tempDir } from '../helpers.js';
import { storeContract } from '../api/model.store.contract.js';
import { makeBucket, sharedCluster, storeOptions } from './cluster.js';

const env = sharedCluster();
const dir = tempDir('h5vault-contract-cas-');
let bucket = '';
beforeAll(async () => {
  bucket = await makeBucket(env, 'contract-cas');
});

// Typed as a plain object so the call types as the existing S3 contract file's does (the contract's store type).
const tensorsLayout: object = { layout: 'tensors' };

storeContract('S3, content-addressed tensors (Ceph radosgw)', {
  // One cache per store, so no store finds files another one cached.
  open: (sub, create) =>
    ModelStore.open(`s3://${bucket}/${sub}`, { ...storeOptions(env, join(dir, sub)), ...tensorsLayout, create }),
});
