/** The S3 store's SDK is an optional peer: importing h5vault never loads it, and a missing SDK is H5_MISSING_PEER. */
import { describe, it, expect } from 'vitest';
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
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
    writeFileSync(
      join(pkg, 'probe.mjs'),
      `
      import { ModelStore } from './dist/index.js';
      try { await ModelStore.open('s3://models/prod', { endpoint: 'http://127.0.0.1:9', cacheDir: ${JSON.stringify(join(dir, 'cache'))} }); console.log('opened'); }
      catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, peer: e.peer, message: e.message })); }`,
    );
    const r = spawnSync(process.execPath, [join(pkg, 'probe.mjs')], {
      encoding: 'utf8',
      cwd: pkg,
      env: { ...process.env, NODE_PATH: '' },
    });
    const out = JSON.parse(r.stdout) as { name: string; code: string; peer: string; message: string };
    expect(out).toMatchObject({ name: 'H5Error', code: 'H5_MISSING_PEER', peer: '@aws-sdk/client-s3' });
    expect(out.message).toContain('npm install @aws-sdk/client-s3 @aws-sdk/lib-storage');
  });

  it("h5vault's declarations compile under --strict with skipLibCheck: false in a project without the AWS SDK (no '@aws-sdk/*' type in them)", () => {
    requireFreshDist();
    // A project with h5vault (dist + package.json copied: no node_modules above it holds the SDK), @types/node and onnxruntime-node.
    const proj = join(dir, 'types-project');
    const pkg = join(proj, 'node_modules', 'h5vault');
    mkdirSync(join(proj, 'node_modules', '@types'), { recursive: true });
    cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.map') });
    cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules', '@types', 'node'), join(proj, 'node_modules', '@types', 'node'));
    // The other optional peer is present: this test is about the AWS SDK's types (onnxruntime-node's are another matter).
    symlinkSync(join(ROOT, 'node_modules', 'onnxruntime-node'), join(proj, 'node_modules', 'onnxruntime-node'));
    writeFileSync(join(proj, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(
      join(proj, 'index.ts'),
      `
      import { File, ModelStore, S3ModelStore, type S3StoreOptions, type S3ConnectOptions, type RemoteOpenOptions } from 'h5vault';
      const o: S3StoreOptions = { endpoint: 'http://127.0.0.1:7480', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } };
      const c: S3ConnectOptions = o;
      const r: RemoteOpenOptions = { blockSize: 65536 };
      export const use = [File, ModelStore, S3ModelStore, c, r];
    `,
    );
    writeFileSync(
      join(proj, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          lib: ['ES2022', 'ESNext.Disposable', 'DOM'],
          types: ['node'],
        }, // DOM: onnxruntime-common's own types need it
        files: ['index.ts'],
      }),
    );
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', proj], {
      encoding: 'utf8',
      cwd: proj,
    });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
