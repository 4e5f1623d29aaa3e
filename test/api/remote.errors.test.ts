/**
 * S3 failures that need no server: every S3 path answers them the same way
 * (lib/remote/url.ts, lib/remote/errors.ts). Run in child processes with an
 * environment of our choosing: no AWS_* variables, an empty HOME (no ~/.aws),
 * and instance metadata disabled (else the SDK waits on 169.254.169.254).
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { File, ModelStore, parseS3Url } from '../../lib/index.js';
import { tempDir } from '../helpers.js';
import { requireFreshDist } from './model.helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = tempDir('h5vault-remote-errors-');

function probe(body: string): { name: string; code: string; message: string } {
  const script = join(dir, `probe-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(
    script,
    `
    import { File, ModelStore } from ${JSON.stringify(join(ROOT, 'dist/index.js'))};
    try { ${body}; console.log(JSON.stringify({ name: 'none' })); }
    catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }`,
  );
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, AWS_EC2_METADATA_DISABLED: 'true' };
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', env, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`probe failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { name: string; code: string; message: string };
}

describe('S3 errors without a server', () => {
  it('no AWS credentials anywhere is H5_S3_CREDENTIALS naming where they are looked for, for File.open and ModelStore.open alike', () => {
    requireFreshDist();
    const opts = `{ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', cacheDir: ${JSON.stringify(join(dir, 'cache'))} }`;
    for (const call of [
      `File.open('s3://models/m.h5', ${opts})`,
      `await ModelStore.open('s3://models/prod', ${opts})`,
    ]) {
      const e = probe(call);
      expect(e).toMatchObject({ name: 'H5Error', code: 'H5_S3_CREDENTIALS' });
      for (const where of ['AWS_ACCESS_KEY_ID', '~/.aws/credentials', 'AWS_PROFILE', 'instance metadata'])
        expect(e.message).toContain(where);
    }
  });

  it('a malformed s3:// URL is the same TypeError for File.open, ModelStore.open and parseS3Url', async () => {
    for (const url of ['s3://ab/x.h5', 's3://Bad_Bucket/x.h5', 's3:///x.h5']) {
      expect(() => parseS3Url(url)).toThrow(TypeError);
      expect(() => File.open(url)).toThrow(TypeError);
      await expect(ModelStore.open(url)).rejects.toThrow(TypeError);
    }
    expect(() => File.open('s3://bucket-only')).toThrow(/does not name an object/);
    expect(parseS3Url('s3://models/prod/m.h5')).toEqual({ bucket: 'models', key: 'prod/m.h5' });
    expect(parseS3Url('s3://models/prod/', 'prefix')).toEqual({ bucket: 'models', key: 'prod' });
  });
});
