/** The ModelStore contract (test/api/model.store.contract.ts) against the local directory store. */
import { join } from 'node:path';
import { ModelStore } from '../../lib/index.js';
import { tempDir } from '../helpers.js';
import { storeContract } from './model.store.contract.js';

const dir = tempDir('h5vault-contract-local-');

storeContract('local directory', {
  open: (sub, create) => ModelStore.open(join(dir, sub), { create }),
});
