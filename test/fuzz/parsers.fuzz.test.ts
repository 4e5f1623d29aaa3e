// Property-based fuzzing of the JavaScript parsers of untrusted bytes (issue
// 21, "Fuzzing the new parsers"): the safetensors header, the zip reader,
// the ONNX protobuf reader, the Keras config (bounded JSON parse, then
// layer-name resolution) and the JSON scanner itself. Inputs are the
// committed seeds of test/fuzz/corpus/<parser>/ with random byte edits,
// truncations and splices, plus random bytes. Property: a result, or an
// H5Error (the scanner: a JsonScanError) - never another exception, a hang or
// a crash. A smoke run: a few thousand cases per parser, seeded, so a
// failure reproduces (fast-check prints the seed and the shrunk input).
// FUZZ_RUNS=<n> runs longer.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { openInput } from '../../lib/safety/open.js';
import { join } from 'node:path';
import { H5Error } from '../../lib/index.js';
import { parseSafetensorsHeader } from '../../lib/formats/safetensors.js';
import { readZipDirectory, readZipMember } from '../../lib/formats/zip.js';
import { listInitializers, relinkInitializers } from '../../lib/onnx/model.js';
import { classesFromConfig, configLayers, KERAS_JSON_BUDGET } from '../../lib/formats/keras.js';
import { JsonScanError, parseJsonBounded, scanJson } from '../../lib/safety/budget.js';
import { tempDir } from '../helpers.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const CORPUS = join(process.cwd(), 'test', 'fuzz', 'corpus');
const seeds = (name: string): Uint8Array[] =>
  readdirSync(join(CORPUS, name))
    .sort()
    .map((f) => new Uint8Array(readFileSync(join(CORPUS, name, f))));
const dir = tempDir('h5vault-fuzz-');

/** A seed with up to 8 byte edits, maybe truncated, maybe with a slice of itself spliced in; or random bytes. */
function mutated(pool: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const edit = fc
    .record({
      seed: fc.constantFrom(...pool),
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      splice: fc.option(fc.tuple(fc.nat(), fc.nat(), fc.nat()), { nil: undefined }),
    })
    .map(({ seed, edits, cut, splice }) => {
      let b = Uint8Array.from(seed);
      if (splice && b.length > 0) {
        const [from, len, at] = splice.map((x) => x % (b.length + 1)) as [number, number, number];
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(from, from + len), ...b.subarray(at)]);
      }
      for (const [pos, v] of edits) if (b.length) b[pos % b.length] = v;
      return cut === undefined || b.length === 0 ? b : b.subarray(0, cut % (b.length + 1));
    });
  return fc.oneof({ weight: 4, arbitrary: edit }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }) });
}

/** The property: `f` returns, or throws an H5Error. Anything else fails the run with the input. */
function typedOnly(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof H5Error)) throw e;
  }
}

async function typedOnlyAsync(f: () => Promise<unknown>): Promise<void> {
  try {
    await f();
  } catch (e) {
    if (!(e instanceof H5Error)) throw e;
  }
}

const params = (n = RUNS): fc.Parameters<unknown> => ({
  numRuns: n,
  seed: Number(process.env.FUZZ_SEED ?? 21),
  endOnFailure: true,
});

describe('fuzzing the parsers of untrusted bytes', () => {
  it('safetensors header: a parse or H5_SAFETENSORS_INVALID / H5_UNSUPPORTED_TYPE', () => {
    fc.assert(
      fc.property(mutated(seeds('safetensors')), (b) => typedOnly(() => parseSafetensorsHeader('fuzz', b))),
      params() as fc.Parameters<[Uint8Array]>,
    );
  });

  it('ONNX protobuf reader: initializers listed and relinked, or H5_ONNX_INVALID', () => {
    fc.assert(
      fc.property(mutated(seeds('onnx')), (b) =>
        typedOnly(() => {
          const inits = listInitializers(b);
          relinkInitializers(b, (_init, i) => (i % 2 ? { location: 'w.h5', offset: 0, length: 4 } : undefined));
          return inits;
        }),
      ),
      params() as fc.Parameters<[Uint8Array]>,
    );
  });

  it('zip reader: a directory and CRC-checked members, or a typed error', async () => {
    let k = 0;
    await fc.assert(
      fc.asyncProperty(mutated(seeds('zip')), async (b) => {
        const p = join(dir, `z${k++ % 4}.zip`);
        writeFileSync(p, b);
        const input = await openInput(p, 'zip archive');
        try {
          await typedOnlyAsync(async () => {
            for (const e of (await readZipDirectory(input, p)).values())
              await readZipMember(input, p, e, 1 << 16).catch((x: unknown) => {
                if (!(x instanceof H5Error)) throw x;
              });
          });
        } finally {
          input.close();
        }
      }),
      params(Math.ceil(RUNS / 4)) as fc.Parameters<[Uint8Array]>,
    );
  });

  it('Keras config: bounded parse then layer-name resolution, or a typed error', () => {
    const texts = seeds('keras-config');
    fc.assert(
      fc.property(mutated(texts), (b) => {
        let config: unknown;
        try {
          config = parseJsonBounded(Buffer.from(b).toString('utf8'), KERAS_JSON_BUDGET);
        } catch (e) {
          if (e instanceof JsonScanError) return;
          throw e;
        }
        classesFromConfig(config as never);
        configLayers(config as never);
      }),
      params() as fc.Parameters<[Uint8Array]>,
    );
  });

  it('JSON scanner agrees with JSON.parse: accepts exactly what it parses (within budget)', () => {
    const budget = { maxBytes: 1 << 20, maxDepth: 127, maxEntries: 1 << 20 };
    const text = fc.oneof(
      fc.json({ depthSize: 'medium' }),
      fc
        .json()
        .chain((j) =>
          fc
            .tuple(fc.nat({ max: j.length }), fc.string({ maxLength: 3 }))
            .map(([at, s]) => j.slice(0, at) + s + j.slice(at)),
        ),
      fc.string({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(text, (t) => {
        let parsed = true;
        try {
          JSON.parse(t);
        } catch {
          parsed = false;
        }
        let scanned = true;
        try {
          scanJson(t, budget);
        } catch (e) {
          if (!(e instanceof JsonScanError)) throw e;
          if (e.kind === 'limit') return;
          scanned = false;
        }
        expect(scanned, JSON.stringify(t)).toBe(parsed);
      }),
      params(RUNS * 2) as fc.Parameters<[string]>,
    );
  });
});
