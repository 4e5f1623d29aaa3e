/** The S3 store's SDK is an optional peer: importing h5vault never loads it, and a missing SDK is H5_MISSING_PEER. */
import { describe, it, expect } from 'vitest';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers.js';
import { requireFreshDist } from './model.helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = tempDir('h5vault-s3-peer-');

describe('S3 store without the AWS SDK', () => {
  it("ModelStore.open('s3://…') is H5Error H5_MISSING_PEER naming the package (h5vault installed where the SDK is not)", () => {
    requireFreshDist();
    // A copy of the package (dist, addon, package.json) in a directory tree with no node_modules above it.
    const pkg = join(dir, 'isolated', 'h5vault');
    mkdirSync(join(pkg, 'build/Release'), { recursive: true });
    cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    cpSync(join(ROOT, 'build/Release/h5vault.node'), join(pkg, 'build/Release/h5vault.node'));
    writeFileSync(join(pkg, 'probe.mjs'), `
      import { ModelStore } from './dist/index.js';
      try { await ModelStore.open('s3://models/prod', { endpoint: 'http://127.0.0.1:9', cacheDir: ${JSON.stringify(join(dir, 'cache'))} }); console.log('opened'); }
      catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, peer: e.peer, message: e.message })); }`);
    const r = spawnSync(process.execPath, [join(pkg, 'probe.mjs')], { encoding: 'utf8', cwd: pkg, env: { ...process.env, NODE_PATH: '' } });
    const out = JSON.parse(r.stdout) as { name: string; code: string; peer: string; message: string };
    expect(out).toMatchObject({ name: 'H5Error', code: 'H5_MISSING_PEER', peer: '@aws-sdk/client-s3' });
    expect(out.message).toContain('npm install @aws-sdk/client-s3 @aws-sdk/lib-storage');
  });
});
