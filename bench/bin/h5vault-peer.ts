/** Child process for bench:compare cases that need their own environment (e.g. H5VAULT_ENGINE=0). */
import { serveFile } from '../peers/h5vault.js';

const jobs = process.argv[2];
if (!jobs) throw new Error('usage: vite-node bench/bin/h5vault-peer.ts JOBS.json');
await serveFile(jobs);
