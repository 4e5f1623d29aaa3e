/**
 * Optional peers' types must not break a user's build (issue 26 item 2): in a
 * project with neither onnxruntime-node nor the AWS SDK, h5vault's published
 * declarations compile under `tsc --strict` with skipLibCheck off; in a
 * project with onnxruntime-node, OrtTensor is still ORT's own Tensor (not
 * `any`). h5vault is a copy of dist/ + package.json, so no node_modules above
 * it holds a peer (a symlink to the repository would find the repository's).
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, STRICT_OPTIONS, tsc } from '../docs/doctest.mjs';

const LIB = STRICT_OPTIONS.lib as string[];
const dir = mkdtempSync(join(tmpdir(), 'h5vault-no-peers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function project(name: string, peers: string[], source: string, lib: string[] = LIB): string {
  const proj = join(dir, name);
  const pkg = join(proj, 'node_modules', 'h5vault');
  mkdirSync(join(proj, 'node_modules', '@types'), { recursive: true });
  cpSync(join(REPO, 'dist'), join(pkg, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.map') });
  cpSync(join(REPO, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(join(REPO, 'node_modules', '@types', 'node'), join(proj, 'node_modules', '@types', 'node'));
  for (const p of peers) symlinkSync(join(REPO, 'node_modules', p), join(proj, 'node_modules', p));
  writeFileSync(join(proj, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(join(proj, 'index.ts'), source);
  writeFileSync(
    join(proj, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { ...STRICT_OPTIONS, lib, noEmit: true }, files: ['index.ts'] }),
  );
  return proj;
}

describe("optional peers' types", () => {
  it('the declarations compile under --strict, skipLibCheck off, without onnxruntime-node and the AWS SDK', async () => {
    const proj = project(
      'none',
      [],
      `
      import { loadModel, ortFeeds, toOrtTensor, S3ModelStore, type OrtTensor, type S3StoreOptions } from 'h5vault';
      export const use = [loadModel, ortFeeds, toOrtTensor, S3ModelStore];
      export type T = [OrtTensor, S3StoreOptions];
    `,
    );
    const r = await tsc(proj);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it("with onnxruntime-node installed, OrtTensor is ORT's Tensor, not any", async () => {
    const proj = project(
      'ort',
      ['onnxruntime-node'],
      `
      import { toOrtTensor, type OrtTensor } from 'h5vault';
      import type { Tensor } from 'onnxruntime-node';
      export function f(t: Parameters<typeof toOrtTensor>[0]): Tensor {
        const o: OrtTensor = toOrtTensor(t);
        const dims: readonly number[] = o.dims;
        // @ts-expect-error dims are numbers: this only errors if OrtTensor is typed
        const wrong: string = o.dims;
        void [dims, wrong];
        return o;
      }
    `,
      [...LIB, 'dom'], // onnxruntime-common's own types name DOM types
    );
    const r = await tsc(proj);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });
});
