/**
 * The one name rule (lib/util/names.ts; docs/architecture.md "One name
 * rule"): every entry point that takes a name refuses a lone UTF-16
 * surrogate, a NUL and the path rules with the same error (a TypeError with
 * code H5_INVALID_ARGUMENT, message `<kind> name <JSON> <problem>`), before
 * the disk is touched. Issue 21,
 * item 3: saveModel / ModelStore.save used to accept 'w\uD800', replace a
 * good model, and write one whose index listed 'w\uFFFD' (H5_CORRUPT on load).
 */
import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { File, ModelStore, loadModel, saveModel, saveSafetensors, type Tensor } from '../../lib/index.js';
import { tempDir } from '../helpers.js';

const dir = tempDir('h5vault-names-');
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const leftovers = (d: string) => readdirSync(d).filter((n) => n.includes('.h5vault-tmp-'));
const t = (v: number): Tensor => ({ dtype: 'float32', shape: [2], data: Float32Array.of(v, v + 1) });
const LONE = 'w\uD800';
const LONE_MSG =
  /name "w\\ud800" is not well-formed Unicode \(a lone surrogate at index 1\): it cannot be stored as UTF-8/;

function refused(fn: () => unknown, msg: RegExp): void {
  let e: unknown;
  try {
    fn();
  } catch (x) {
    e = x;
  }
  expect(e).toBeInstanceOf(TypeError);
  expect(e).toMatchObject({ code: 'H5_INVALID_ARGUMENT' });
  expect((e as Error).message).toMatch(msg);
}

describe('saveModel / ModelStore.save refuse a lone surrogate before the disk is touched (item 3)', () => {
  it('saveModel: a TypeError (H5_INVALID_ARGUMENT) naming the tensor; the good model is byte-identical and still loads', async () => {
    const p = join(dir, 'good.h5');
    const old = await saveModel(p, { w: t(1) });
    const e = await saveModel(p, { [LONE]: t(2) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TypeError);
    expect(e).toMatchObject({ code: 'H5_INVALID_ARGUMENT', kind: 'tensor', value: LONE });
    expect((e as Error).message).toMatch(new RegExp(`^tensor ${LONE_MSG.source}`));
    expect(sha(p)).toBe(old.digest);
    const m = await loadModel(p);
    expect([...m.tensors.keys()]).toEqual(['w']);
    m.close();
    expect(leftovers(dir)).toEqual([]);
  });

  it('ModelStore.save: refused, no version published, latest still loads', async () => {
    const store = await ModelStore.open(join(dir, 'store'), { create: true });
    expect(await store.save('m', { w: t(1) })).toBe(1);
    await expect(store.save('m', { [LONE]: t(2) })).rejects.toMatchObject({
      code: 'H5_INVALID_ARGUMENT',
      message: expect.stringMatching(LONE_MSG),
    });
    expect((await store.versions('m')).map((v) => v.version)).toEqual([1]);
    const m = await store.load('m');
    expect([...m.tensors.keys()]).toEqual(['w']);
    m.close();
    expect(leftovers(store.dir('m'))).toEqual([]);
    // Store names follow the same rule and format.
    await expect(store.save('a/b', { w: t(1) })).rejects.toThrow(/^model name "a\/b" must match/);
    await expect(store.save(LONE, { w: t(1) })).rejects.toThrow(new RegExp(`^model ${LONE_MSG.source}`));
  });

  it('saveSafetensors: the same rule and message for its names', async () => {
    const p = join(dir, 'x.safetensors');
    await expect(saveSafetensors(p, { [LONE]: t(1) })).rejects.toThrow(
      new RegExp(`^safetensors tensor ${LONE_MSG.source}`),
    );
    await expect(saveSafetensors(p, { 'a\0b': t(1) })).rejects.toThrow(
      /^safetensors tensor name "a\\u0000b" contains a NUL character \(at index 1\)/,
    );
  });
});

describe('File / Group / Attributes: one rule for dataset, group, link, attribute names and lookups', () => {
  it('a lone surrogate or a NUL is refused everywhere with the same format, and nothing is created', () => {
    const p = join(dir, 'f.h5');
    {
      using f = File.create(p);
      f.createGroup('g');
      f.createDataset('d', { dtype: 'int8', shape: [1] });
      refused(() => f.createGroup(LONE), new RegExp(`^group ${LONE_MSG.source}`));
      refused(() => f.createDataset(LONE, { dtype: 'int8', shape: [1] }), new RegExp(`^dataset ${LONE_MSG.source}`));
      refused(
        () => f.createTypedDataset(LONE, { type: 'int8', data: 1 } as never),
        new RegExp(`^dataset ${LONE_MSG.source}`),
      );
      refused(() => f.createSoftLink(LONE, '/g'), new RegExp(`^link ${LONE_MSG.source}`));
      refused(() => f.createHardLink('h', LONE), new RegExp(`^path ${LONE_MSG.source}`));
      refused(() => f.move('g', LONE), new RegExp(`^link ${LONE_MSG.source}`));
      refused(() => f.get(LONE), new RegExp(`^path ${LONE_MSG.source}`));
      refused(() => f.has(LONE), new RegExp(`^path ${LONE_MSG.source}`));
      refused(() => f.attrs.set(LONE, 1), new RegExp(`^attribute ${LONE_MSG.source}`));
      refused(() => f.attrs.get(LONE), new RegExp(`^attribute ${LONE_MSG.source}`));
      refused(() => f.attrs.has(LONE), new RegExp(`^attribute ${LONE_MSG.source}`));
      refused(() => f.attrs.delete(LONE), new RegExp(`^attribute ${LONE_MSG.source}`));
      refused(() => f.createGroup('h\0i'), /^group name "h\\u0000i" contains a NUL character \(at index 1\)$/);
      refused(() => f.attrs.set('x\0y', 1), /^attribute name "x\\u0000y" contains a NUL character \(at index 1\)$/);
      refused(
        () => f.createGroup('a/../b'),
        /^group name "a\/..\/b" must be '\/'-separated non-empty segments without '.' or '..'$/,
      );
      refused(() => f.createDataset('', { dtype: 'int8', shape: [1] }), /^dataset name "" must not be empty$/);
      // A surrogate pair is a good name (U+1F600), and '/' or '.' are ordinary in attribute names.
      f.createGroup('emoji\u{1F600}');
      f.attrs.set('a/b.c', 1);
      expect(f.keys().sort()).toEqual(['d', 'emoji\u{1F600}', 'g']);
      expect(f.attrs.keys()).toEqual(['a/b.c']);
    }
    using r = File.open(p);
    expect(r.keys().sort()).toEqual(['d', 'emoji\u{1F600}', 'g']);
  });
});
