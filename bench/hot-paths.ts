/**
 * `npm run bench`: benny suites for h5vault's hot paths — open, zero-copy
 * view, read and write per codec, attribute access, many small tensors.
 * Results (ops/s with margins) are printed and saved as JSON in
 * bench/results/benny/ (or --out DIR).
 *
 *   npm run bench -- [--size 4MiB] [--quick] [--out DIR] [--only open,view,...]
 *
 * --quick runs each case for a fraction of a second: numbers are then rough;
 * it exists so the suite can be smoke-tested.
 */
import b from 'benny';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { File } from '../lib/index.js';
import { parse, parseSize, str, UsageError } from '../lib/cli/args.js';
import { datasetOptions, parseCodecs } from '../lib/bench/benchmark.js';
import { gaussianFloat32 } from '../lib/bench/synthetic.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SUITES = ['open', 'view', 'read', 'write', 'attrs', 'small'] as const;

const { values } = parse(
  process.argv.slice(2),
  { size: { type: 'string' }, quick: { type: 'boolean' }, out: { type: 'string' }, only: { type: 'string' } },
  { min: 0, max: 0, names: 'options only' },
);
const size = parseSize(str(values.size) ?? '4MiB', '--size');
const quick = !!values.quick;
const outDir = resolve(str(values.out) ?? join(ROOT, 'bench/results/benny'));
const only = (str(values.only) ?? SUITES.join(',')).split(',');
for (const s of only)
  if (!(SUITES as readonly string[]).includes(s))
    throw new UsageError(`--only: unknown suite '${s}' (${SUITES.join(', ')})`);
const caseOptions = quick ? { minSamples: 2, maxTime: 0.05, delay: 0 } : { minSamples: 10, maxTime: 2 };
const CODECS = ['none', 'gzip-1+shuffle', 'gzip-4+shuffle', 'lz4+shuffle', 'lzf+shuffle', 'szip'];

const work = mkdtempSync(join(tmpdir(), 'h5vault-benny-'));
const n = Math.max(1, Math.floor(size / 4));
const data = gaussianFloat32(n, 7);
const save = (file: string) => b.save({ file, folder: outDir, format: 'json', details: false });

/** One file holding the tensor under every codec, plus a model-like file of 200 small tensors. */
function fixtures(): { codecs: string; small: string } {
  const codecs = join(work, 'codecs.h5');
  const f = File.create(codecs);
  for (const c of parseCodecs(CODECS)) {
    f.createDataset(c.name, datasetOptions({ dtype: 'float32', shape: [n] }, c, 1 << 20)).writeSync(data);
  }
  f.attrs.set('count', 42);
  f.attrs.set('name', 'a model name of typical length');
  f.attrs.set('config', JSON.stringify({ layers: 12, hidden: 768, heads: 12, vocab: 32000, dropout: 0.1 }));
  f.attrs.set('shape', new Float32Array(16));
  f.close();
  const small = join(work, 'small.h5');
  const g = File.create(small);
  for (let i = 0; i < 200; i++)
    g.createDataset(`layer${String(i).padStart(3, '0')}/bias`, {
      dtype: 'float32',
      shape: [256],
      data: data.subarray(0, 256),
    });
  g.close();
  return { codecs, small };
}

async function run(): Promise<void> {
  const fx = fixtures();
  if (only.includes('open')) {
    await b.suite(
      'open',
      b.add('File.open + close (6 datasets)', () => File.open(fx.codecs).close(), caseOptions),
      b.add('File.open + close (200 tensors)', () => File.open(fx.small).close(), caseOptions),
      b.add(
        'open + walk 200 tensors',
        () => {
          const f = File.open(fx.small);
          for (const _ of f.walk());
          f.close();
        },
        caseOptions,
      ),
      b.cycle(),
      b.complete(),
      save('open'),
    );
  }
  if (only.includes('view')) {
    const f = File.open(fx.codecs);
    const ds = f.dataset('none');
    await b.suite(
      `view (${(size / 2 ** 20).toFixed(1)} MiB tensor)`,
      b.add('dataset.view() zero-copy', () => ds.view(), caseOptions),
      b.add('dataset.viewOrCopy()', () => ds.viewOrCopy(), caseOptions),
      b.add('readSync() copy, for contrast', () => ds.readSync(), caseOptions),
      b.cycle(),
      b.complete(),
      save('view'),
    );
    f.close();
  }
  if (only.includes('read')) {
    const f = File.open(fx.codecs);
    await b.suite(
      `read per codec (${(size / 2 ** 20).toFixed(1)} MiB float32, await read())`,
      ...CODECS.map((c) => {
        const ds = f.dataset(c);
        return b.add(
          c,
          async () => {
            await ds.read();
          },
          caseOptions,
        );
      }),
      b.cycle(),
      b.complete(),
      save('read'),
    );
    f.close();
  }
  if (only.includes('write')) {
    let i = 0;
    await b.suite(
      `write per codec (${(size / 2 ** 20).toFixed(1)} MiB float32: create, write, close)`,
      ...parseCodecs(CODECS).map((c) =>
        b.add(
          c.name,
          async () => {
            // A fresh name each time: benny may start a case before the previous call settled.
            const path = join(work, `w${i++}.h5`);
            const f = File.create(path);
            await f.createDataset('x', datasetOptions({ dtype: 'float32', shape: [n] }, c, 1 << 20)).write(data);
            await f.closeAsync();
            rmSync(path);
          },
          caseOptions,
        ),
      ),
      b.cycle(),
      b.complete(),
      save('write'),
    );
  }
  if (only.includes('attrs')) {
    const f = File.open(fx.codecs);
    const w = File.create(join(work, 'attrs.h5'));
    await b.suite(
      'attribute access',
      b.add('get int', () => f.attrs.get('count'), caseOptions),
      b.add('get string', () => f.attrs.get('name'), caseOptions),
      b.add('get float32[16]', () => f.attrs.get('shape'), caseOptions),
      b.add('toObject (4 attributes)', () => f.attrs.toObject(), caseOptions),
      b.add('set JSON string', () => w.attrs.set('config', '{"layers":12}'), caseOptions),
      b.cycle(),
      b.complete(),
      save('attrs'),
    );
    w.close();
    f.close();
  }
  if (only.includes('small')) {
    const small = data.subarray(0, 256);
    let k = 0;
    await b.suite(
      'many small tensors (200 x float32[256])',
      b.add(
        'write 200 tensors + close',
        async () => {
          const path = join(work, `s${k++}.h5`);
          const f = File.create(path);
          for (let i = 0; i < 200; i++) f.createDataset(`t${i}`, { dtype: 'float32', shape: [256] }).writeSync(small);
          await f.closeAsync();
          rmSync(path);
        },
        caseOptions,
      ),
      b.add(
        'open + view 200 tensors',
        () => {
          const f = File.open(fx.small);
          for (const [, o] of f.walk()) if (o.kind === 'dataset') o.view();
          f.close();
        },
        caseOptions,
      ),
      b.add(
        'open + await read() 200 tensors',
        async () => {
          const f = File.open(fx.small);
          for (const [, o] of f.walk()) if (o.kind === 'dataset') await o.read();
          f.close();
        },
        caseOptions,
      ),
      b.cycle(),
      b.complete(),
      save('small'),
    );
  }
}

try {
  await run();
  process.stderr.write(`results saved in ${outDir}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
