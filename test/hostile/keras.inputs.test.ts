/**
 * loadKeras on hostile inputs (issue 21: #7, #8, #10, #12, #15), files built
 * with h5py and Python's zipfile. Cases that hung or ballooned before the
 * fix run in a child process with a deadline, so a regression fails the test
 * instead of stalling the run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { H5Error, fileDigest, loadKeras } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';
import { DIST_URL, ensureDist } from '../lifecycle/child.js';
import { CLI } from '../cli/run.js';
import { ensureWalkChild } from './helpers.js';

requirePeers();
const dir = tempDir('h5vault-keras-hostile-');
const p = (name: string) => join(dir, name);
const DEADLINE_MS = 60_000;

const BUILD = String.raw`
import sys, json, io, struct, zipfile
import numpy as np, h5py
kind, out = sys.argv[1], sys.argv[2]
opts = json.loads(sys.argv[3])
CONFIG = {'class_name': 'Sequential', 'config': {'name': 'seq', 'layers': [
    {'class_name': 'Dense', 'config': {'name': 'dense', 'units': 4, 'use_bias': False}}]}}

def weights(fill, n=64):
    b = io.BytesIO()
    with h5py.File(b, 'w') as f:
        f['layers/dense/vars/0'] = np.full((n,), fill, dtype='<f4')
    return b.getvalue()

def archive(path, data, method=zipfile.ZIP_STORED, align=None, pad=0):
    with zipfile.ZipFile(path, 'w', compression=method) as zf:
        zf.writestr('metadata.json', json.dumps({'keras_version': '3.9.2'}))
        zf.writestr('config.json', json.dumps(CONFIG))
        for i in range(pad):
            zf.writestr('pad/%d' % i, b'')
        if align is None:
            zf.writestr('model.weights.h5', data)
        else:
            zi = zipfile.ZipInfo('model.weights.h5', date_time=(2025, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_STORED
            n = align - (zf.fp.tell() + 30 + len(zi.filename))
            zi.extra = struct.pack('<HH', 0xcafe, n - 4) + b'\0' * (n - 4)
            zf.writestr(zi, data)

if kind == 'archive':
    archive(out, weights(opts['fill']), zipfile.ZIP_DEFLATED if opts.get('deflate') else zipfile.ZIP_STORED, opts.get('align'))
elif kind == 'bomb':
    # Zeros deflate ~1000:1: a small archive whose weights member declares opts['mb'] MiB.
    archive(out, weights(0.0, opts['mb'] * 262144), zipfile.ZIP_DEFLATED)
elif kind == 'renamed':
    # The local header names another file than the central directory (same length).
    archive(out, weights(1.0))
    b = bytearray(open(out, 'rb').read())
    zf = zipfile.ZipFile(io.BytesIO(bytes(b)))
    at = zf.getinfo('model.weights.h5').header_offset + 30
    assert b[at:at + 16] == b'model.weights.h5'
    b[at:at + 16] = b'model.weights.h6'
    open(out, 'wb').write(b)
elif kind == 'ffff':
    # Exactly 65535 members: the end record's count is 0xFFFF and there is no zip64 record.
    archive(out, weights(3.0), pad=65532)
    assert len(zipfile.ZipFile(out).namelist()) == 65535
elif kind == 'cycle':
    with h5py.File(out, 'w') as f:
        f['layers/dense/vars/0'] = np.full((4,), 5.0, dtype='<f4')
        g = f['layers/dense']
        if opts['link'] == 'hard':
            g['again'] = g
            g['and_again'] = g
        else:
            g['again'] = h5py.SoftLink('/layers/dense')
            g['and_again'] = h5py.SoftLink('/layers/dense')
elif kind == 'deep':
    with h5py.File(out, 'w') as f:
        f['layers/deep/' + 'a/' * opts['depth'] + 'vars/0'] = np.full((3,), 7.0, dtype='<f4')
elif kind == 'shared':
    # Keras 2 weights: one chunked 1 MiB weight listed by opts['n'] layers (hard links).
    with h5py.File(out, 'w') as f:
        f.create_dataset('shared', data=np.arange(262144, dtype='<f4'), chunks=(262144,))
        names = ['l%d' % i for i in range(opts['n'])]
        f.attrs['layer_names'] = [n.encode() for n in names]
        for n in names:
            f[n + '/' + n + '/w:0'] = f['shared']
            f[n].attrs['weight_names'] = [(n + '/w:0').encode()]
else:
    raise SystemExit('unknown ' + kind)
`;

function build(kind: string, out: string, opts: Record<string, unknown> = {}): string {
  python(BUILD, [kind, out, JSON.stringify(opts)]);
  return out;
}

/** Runs `body` (an async function body using H5 and P) in a fresh node without process.exit: it must end by itself. */
function inChild(
  body: string,
  path: string,
): { status: number | null; timedOut: boolean; out: Record<string, unknown>; stderr: string } {
  const file = p(`child-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(
    file,
    `const H5 = await import(${JSON.stringify(DIST_URL)});
const P = ${JSON.stringify(path)};
try {
  console.log(JSON.stringify(await (async () => { ${body} })() ?? { ok: true }));
} catch (e) {
  console.log(JSON.stringify({ code: e.code, reason: e.reason, message: e.message, name: e.name }));
}`,
  );
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: DEADLINE_MS, killSignal: 'SIGKILL' });
  const last = r.stdout?.trim().split('\n').pop() ?? '';
  return { status: r.status, timedOut: r.signal === 'SIGKILL', out: last ? JSON.parse(last) : {}, stderr: r.stderr };
}

async function failure(q: Promise<unknown>): Promise<H5Error> {
  const e = await q.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(H5Error);
  return e as H5Error;
}

let racer: ChildProcess | undefined;
afterEach(() => {
  racer?.kill('SIGKILL');
  racer = undefined;
});

beforeAll(() => {
  ensureDist();
  ensureWalkChild();
});

describe('#7 expectDigest: the archive hashed is the archive loaded', () => {
  /** A process that points `link` at a, b, a, b ... as fast as it can (each step an atomic rename). */
  function flip(a: string, b: string, link: string): void {
    const script = `const fs = require('node:fs');
const [a, b, link] = process.argv.slice(1);
for (let i = 0; ; i++) { try { fs.unlinkSync(link + '.tmp'); } catch {} fs.symlinkSync(i % 2 ? b : a, link + '.tmp'); fs.renameSync(link + '.tmp', link); }`;
    racer = spawn(process.execPath, ['-e', script, a, b, link], { stdio: 'ignore' });
  }

  it.each([
    ['extracted (stored at an ordinary offset)', {}],
    ['opened in place (stored at 1024)', { align: 1024 }],
  ] as [string, Record<string, unknown>][])(
    '%s: 300 loads under a symlink flip never return bytes that were not hashed',
    async (name, opts) => {
      const tag = opts.align ? 'direct' : 'extracted';
      const good = build('archive', p(`good-${tag}.keras`), { ...opts, fill: 1 });
      const other = build('archive', p(`other-${tag}.keras`), { ...opts, fill: 2 });
      const digest = await fileDigest(good);
      flip(good, other, p(`flip-${tag}.keras`));
      const seen = { good: 0, other: 0, refused: 0 };
      for (let i = 0; i < 300 || (seen.good === 0 && i < 300 * 25); i++) {
        try {
          const m = await loadKeras(p(`flip-${tag}.keras`), { expectDigest: digest });
          const v = (m.tensors.get('dense/kernel')!.data as Float32Array)[0];
          if (v === 1) seen.good++;
          else seen.other++;
          expect(m.source.kind).toBe(opts.align ? 'zip-direct' : 'zip-extracted');
          m.close();
        } catch (e) {
          expect(e, name).toBeInstanceOf(H5Error);
          expect(['H5_CHECKSUM_MISMATCH', 'H5_FILE_NOT_FOUND']).toContain((e as H5Error).code);
          seen.refused++;
        }
      }
      expect(seen.other).toBe(0);
      expect(seen.good).toBeGreaterThan(0);
    },
  );
});

describe('#12 a deflated weights member that declares far more than it holds', () => {
  it('is refused H5_LIMIT_EXCEEDED (zip-bomb) before anything is written to tmpDir', async () => {
    const bomb = build('bomb', p('bomb.keras'), { mb: 64 });
    const scratch = p('bomb-scratch');
    mkdirSync(scratch);
    const e = await failure(loadKeras(bomb, { tmpDir: scratch }));
    expect(e.code).toBe('H5_LIMIT_EXCEEDED');
    expect(e.reason).toBe('zip-bomb');
    expect(e.message).toMatch(/declares 6\d{7} bytes from \d+ compressed/);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('a deflated member of ordinary weights still loads', async () => {
    using m = await loadKeras(build('archive', p('deflated.keras'), { fill: 4, deflate: true }));
    expect(m.source).toMatchObject({ kind: 'zip-extracted', compression: 'deflate' });
    expect([...(m.tensors.get('dense/kernel')!.data as Float32Array)]).toEqual(new Array(64).fill(4));
  });
});

describe('#15 zip strictness', () => {
  it('a local header naming another file than the central directory is refused H5_CORRUPT (as Python zipfile refuses it)', async () => {
    const f = build('renamed', p('renamed.keras'));
    expect(
      python(
        `import zipfile, sys
try:
    zipfile.ZipFile(sys.argv[1]).read('model.weights.h5'); print('read')
except zipfile.BadZipFile as e:
    print('refused')`,
        [f],
      ).trim(),
    ).toBe('refused');
    const e = await failure(loadKeras(f));
    expect(e.code).toBe('H5_CORRUPT');
    expect(e.reason).toBe('archive');
    expect(e.message).toMatch(/named 'model\.weights\.h6' in its local header/);
  });

  it('an end record counting 0xFFFF members without a zip64 locator is a plain archive of 65535 members', async () => {
    using m = await loadKeras(build('ffff', p('ffff.keras')));
    expect([...(m.tensors.get('dense/kernel')!.data as Float32Array)]).toEqual(new Array(64).fill(3));
  });

  it('Keras 3 variables 40 groups deep are read, not dropped; 140 deep are refused H5_LIMIT_EXCEEDED', async () => {
    using m = await loadKeras(build('deep', p('deep40.weights.h5'), { depth: 40 }));
    const name = `deep/${'a/'.repeat(40)}0`;
    expect([...m.tensors.keys()]).toEqual([name]);
    expect([...(m.tensors.get(name)!.data as Float32Array)]).toEqual([7, 7, 7]);
    const e = await failure(loadKeras(build('deep', p('deep140.weights.h5'), { depth: 140 })));
    expect(e.code).toBe('H5_LIMIT_EXCEEDED');
    expect(e.reason).toBe('too-deep');
  });
});

describe('#8 a layer group that links to itself twice', () => {
  it.each(['hard', 'soft'])(
    '%s links: loadKeras, { untrusted } and convert --untrusted end, with the one weight',
    (link) => {
      const f = build('cycle', p(`cycle-${link}.weights.h5`), { link });
      for (const opts of ['{}', '{ untrusted: true }']) {
        const r = inChild(
          `const m = await H5.loadKeras(P, ${opts});
        return { names: [...m.tensors.keys()], data: [...m.tensors.values()].map((w) => [...w.data]) };`,
          f,
        );
        expect(r.timedOut, `loadKeras ${opts} did not end within ${DEADLINE_MS} ms`).toBe(false);
        expect(r.out).toEqual({ names: ['dense/0'], data: [[5, 5, 5, 5]] });
      }
      const out = p(`cycle-${link}.safetensors`);
      const c = spawnSync(process.execPath, [CLI, 'convert', f, out, '--untrusted'], {
        encoding: 'utf8',
        timeout: DEADLINE_MS,
        killSignal: 'SIGKILL',
      });
      expect(c.signal, 'h5vault convert --untrusted did not end').toBeNull();
      expect(c.status, c.stderr).toBe(0);
    },
  );
});

describe('#10 one chunked weight named by 1000 layers', () => {
  it('is read once and shared: arrayBuffers stay near one copy, not 1000', () => {
    const f = build('shared', p('shared.h5'), { n: 1000 });
    const r = inChild(
      `const m = await H5.loadKeras(P);
      const u = process.memoryUsage();
      const a = m.tensors.get('l0/w').data, b = m.tensors.get('l999/w').data;
      return { n: m.tensors.size, shared: a === b, first: a[1], last: b[262143], arrayBuffers: u.arrayBuffers, rss: u.rss };`,
      f,
    );
    expect(r.timedOut).toBe(false);
    expect(r.out).toMatchObject({ n: 1000, shared: true, first: 1, last: 262143 });
    // One copy is 1 MiB; 1000 were 1.07 GB.
    expect(r.out.arrayBuffers as number).toBeLessThan(64 * 2 ** 20);
    expect(r.out.rss as number).toBeLessThan(400 * 2 ** 20);
  });
});
