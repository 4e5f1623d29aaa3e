/**
 * A file the process may not read is a permission problem, not a hostile
 * file: untrusted mode reports H5_PERMISSION, as the trusted open does. Tests
 * run as root, which reads anything, so the opens run in a child process whose
 * capability bounding set lacks CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
 * (util-linux's setpriv): it is still uid 0, but file modes now apply to it.
 * (Switching to 'nobody' instead fails where the filesystem root is not
 * searchable by others, as in some chroots: the child could not even start.)
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { File } from '../../lib/index.js';
import { REPO, ensureWalkChild } from './helpers.js';

const dir = mkdtempSync('/tmp/h5vault-perm-');
const secret = join(dir, 'secret.h5');

beforeAll(() => {
  ensureWalkChild();
  chmodSync(dir, 0o755);
  const f = File.create(secret);
  f.createDataset('w', { dtype: 'float32', shape: [4], data: new Float32Array(4) });
  f.close();
  chmodSync(secret, 0o000); // not even its owner, root, may read it once DAC overrides are gone
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a file without read permission', () => {
  it('is H5_PERMISSION in untrusted, expectDigest and trusted opens, and for walkUntrusted', () => {
    const script = `
import { File, walkUntrusted } from ${JSON.stringify(join(REPO, 'dist', 'index.js'))};
const path = process.argv[1];
const out = {};
const code = async (name, fn) => { try { await fn(); out[name] = 'opened'; } catch (e) { out[name] = e.code ?? e.message; } };
await code('untrusted', async () => (await File.openAsync(path, { untrusted: true })).close());
await code('untrustedSync', () => File.open(path, { untrusted: true }).close());
await code('expectDigest', async () => (await File.openAsync(path, { expectDigest: '0'.repeat(64) })).close());
await code('trusted', () => File.open(path).close());
await code('walk', () => walkUntrusted(path));
process.stdout.write(JSON.stringify({ uid: process.getuid(), ...out }));
`;
    const drop = ['--inh-caps=-dac_override,-dac_read_search', '--bounding-set=-dac_override,-dac_read_search'];
    const r = spawnSync('setpriv', [...drop, process.execPath, '--input-type=module', '-e', script, secret], {
      encoding: 'utf8',
      cwd: '/',
    });
    expect(r.error, 'setpriv (util-linux) must be installed').toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      uid: 0,
      untrusted: 'H5_PERMISSION',
      untrustedSync: 'H5_PERMISSION',
      expectDigest: 'H5_PERMISSION',
      trusted: 'H5_PERMISSION',
      walk: 'H5_PERMISSION',
    });
  });
});
