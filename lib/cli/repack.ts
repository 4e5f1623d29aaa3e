/**
 * `h5vault repack IN OUT --compression C [--shuffle] [--level N] [--chunk-bytes N]`:
 * rewrites a file with other filters. Same groups, datasets (values, dtypes,
 * shapes) and attributes (raw bytes, same dtype and shape); written
 * atomically, so OUT is either the old file or the complete new one.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from './command.js';
import { native, type ObjHandle } from '../addon/binding.js';
import { Dataset, type DatasetData } from '../h5/dataset.js';
import type { NumericDType } from '../h5/dtypes.js';
import { H5Error } from '../errors.js';
import { File } from '../h5/file.js';
import type { CompressionName, CreateDatasetOptions, Group } from '../h5/group.js';
import { INPUT_OPTIONS, oneOf, parse, parseInteger, parseSize, str, UsageError } from './args.js';
import { publishFile, refuseExisting, type PublishTarget } from '../util/publish.js';
import { chunkShapeFor, type CodecConfig, datasetOptions } from '../bench/benchmark.js';
import { EXIT, formatBytes, formatMs, Output } from './output.js';
import { errorSummary, isUnsupported, openInput, walkTree } from './tree.js';
import { fileStampOf } from '../safety/untrusted.js';
import { INDEX_ATTR } from '../model/tensor-index.js';

const USAGE = `Usage: h5vault repack IN OUT --compression none|gzip|lzf|lz4|zstd|bitshuffle|bitshuffle+zstd|szip
                      [--shuffle] [--level N (gzip 1-9, zstd and bitshuffle+zstd 1-22)]
                      [--chunk-bytes SIZE] [--fletcher32] [--force]
                      [--untrusted] [--json]

Rewrites IN as OUT with the given filters on every numeric dataset: same
groups, datasets and attributes. Uncompressed output is contiguous (so
tensors can be viewed zero-copy); compressed output is chunked at about
--chunk-bytes (default 1MiB). OUT is written to a temporary file, fsynced
and renamed into place. An existing OUT (or OUT = IN) needs --force.
Datasets and attributes of types h5vault cannot represent yet
(H5_UNSUPPORTED_TYPE) are left out with a warning each, listed as
"skipped" in --json output. Soft/external links and objects that cannot be
read cannot be copied: repack stops with an error naming them.`;

/** What repack leaves out: a value of a type h5vault cannot represent yet, with the reason. */
export interface RepackSkipped {
  path: string;
  code: string;
  message: string;
}

/**
 * Copies every attribute byte-for-byte (dtype, shape and raw values), not
 * through JS numbers. An attribute of a type h5vault cannot represent is
 * skipped (recorded, warned); any other failure is a problem that stops the repack.
 */
function copyAttrs(
  from: ObjHandle,
  to: ObjHandle,
  where: string,
  problems: string[],
  skipped: RepackSkipped[],
  out: Output,
): void {
  for (const name of native.attrList(from)) {
    // The tensor index lists the old file's offsets: copied, it would be a
    // false claim about the new layout. Without it the model is walked.
    if (name === INDEX_ATTR) continue;
    try {
      const a = native.attrGet(from, name);
      const data = Array.isArray(a.data) ? a.data : new Uint8Array(a.data);
      native.attrSet(to, name, a.dtype, a.scalar ? null : a.shape, data);
    } catch (e) {
      const err = errorSummary(e);
      if (isUnsupported(err.code)) {
        skipped.push({ path: `${where}@${name}`, ...err });
        out.note(`warning: skipped attribute '${name}' of '${where}': [${err.code}] ${err.message}`);
      } else {
        problems.push(`attribute '${name}' of '${where}': ${err.message}`);
      }
    }
  }
}

export const command: Command = {
  summary: 'rewrite a file with other filters (atomic; same tensors and attributes)',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        compression: { type: 'string', short: 'c' },
        shuffle: { type: 'boolean' },
        level: { type: 'string' },
        'chunk-bytes': { type: 'string' },
        fletcher32: { type: 'boolean' },
        force: { type: 'boolean', short: 'f' },
        ...INPUT_OPTIONS,
      },
      { min: 2, max: 2, names: 'IN OUT' },
    );
    const out = new Output(values);
    const [input, output] = positionals as [string, string];
    const compression = str(values.compression);
    const CHOICES = ['none', 'gzip', 'lzf', 'lz4', 'zstd', 'bitshuffle', 'bitshuffle+lz4', 'bitshuffle+zstd', 'szip'];
    if (!compression)
      throw new UsageError(
        '--compression is required (none, gzip, lzf, lz4, zstd, bitshuffle (+LZ4), bitshuffle+zstd or szip)',
      );
    oneOf(compression, '--compression', CHOICES);
    const levelText = str(values.level);
    const zstdLike = compression === 'zstd' || compression === 'bitshuffle+zstd';
    const leveled = compression === 'gzip' || zstdLike;
    if (levelText !== undefined && !leveled)
      throw new UsageError('--level applies to gzip, zstd and bitshuffle+zstd only');
    const level =
      levelText === undefined
        ? ({ gzip: 4, zstd: 3, 'bitshuffle+zstd': 3 } as Record<string, number>)[compression]
        : parseInteger(levelText, '--level', 1, zstdLike ? 22 : 9);
    if (values.shuffle && compression === 'none')
      throw new UsageError('--shuffle needs a compressor (it only reorders bytes for one)');
    const chunkText = str(values['chunk-bytes']);
    const chunkBytes = chunkText === undefined ? 1 << 20 : parseSize(chunkText, '--chunk-bytes');
    const bitshuffle = compression.startsWith('bitshuffle');
    const config: CodecConfig = {
      name: compression,
      compression: (bitshuffle ? 'bitshuffle' : compression) as CompressionName,
      level,
      shuffle: !!values.shuffle,
      ...(bitshuffle ? { inner: compression === 'bitshuffle+zstd' ? ('zstd' as const) : ('lz4' as const) } : {}),
    };

    // The input is opened (pinned) through the one opener before anything
    // else looks at it; from then on only the open File is asked about it.
    const t0 = performance.now();
    const src = await openInput(input, values.untrusted);
    // OUT is the named output, replaced only with --force (checked again, atomically, at publish).
    const target: PublishTarget = { overwrite: !!values.force, role: 'OUT', allow: 'use --force' };
    let same: boolean;
    let inBytes: number | null;
    try {
      await refuseExisting(resolve(output), target);
      const outSt = statSync(output, { bigint: true, throwIfNoEntry: false });
      if (outSt?.isDirectory()) {
        throw new H5Error(`'${output}' is a directory`, { code: 'H5_EXISTS' });
      }
      // Repacking a file onto itself: the same inode as the one opened, whatever the paths say.
      const stamp = fileStampOf(src);
      same = outSt !== undefined && String(outSt.dev) === stamp.dev && String(outSt.ino) === stamp.ino;
      inBytes = same ? null : Number(stamp.size);
    } catch (e) {
      src.close();
      throw e;
    }
    const problems: string[] = [];
    const skipped: RepackSkipped[] = [];
    let tensors = 0;
    let logical = 0;
    try {
      const entries = [...walkTree(src)];
      for (const e of entries) {
        if (e.kind === 'link') {
          problems.push(
            e.target === 'seen'
              ? `'${e.path}' is a second hard link to an object copied elsewhere`
              : `'${e.path}' is a ${e.link} link`,
          );
        } else if (e.kind === 'error') {
          problems.push(`'${e.path}' cannot be read: [${e.error.code}] ${e.error.message}`);
        }
      }
      if (problems.length) {
        throw new H5Error(`cannot repack '${input}' without losing data: ${problems.join('; ')}`, {
          code: 'H5_UNSUPPORTED',
        });
      }
      const total = entries.reduce((a, e) => a + (e.kind === 'dataset' ? e.obj.byteLength : 0), 0);
      const bar = out.progress('repacking', total);
      await publishFile(resolve(output), {
        ...target,
        // Check: the temp reopens and holds every dataset copied.
        check: (tmp) => {
          const f = File.open(tmp);
          let n = 0;
          try {
            for (const [, o] of f.walk()) if (o instanceof Dataset) n++;
          } finally {
            f.close();
          }
          if (n !== tensors)
            throw new H5Error(`the repacked temp of '${output}' holds ${n} datasets, ${tensors} were copied`, {
              code: 'H5_CORRUPT',
            });
        },
        write: async (tmp) => {
          const dst = File.create(tmp);
          try {
            copyAttrs(src.handle, dst.handle, '/', problems, skipped, out);
            for (const e of entries) {
              if (e.kind === 'group') {
                const g: Group = dst.createGroup(e.path);
                copyAttrs(e.obj.handle, g.handle, e.path, problems, skipped, out);
              } else if (e.kind === 'dataset') {
                const ds: Dataset = e.obj;
                const dtype = ds.dtype;
                const shape = ds.shape;
                let data: DatasetData;
                try {
                  if (dtype === 'unsupported')
                    throw new H5Error(`dataset '${e.path}' has a type h5vault cannot represent`, {
                      code: 'H5_UNSUPPORTED_TYPE',
                    });
                  data = await ds.read();
                } catch (err) {
                  const s = errorSummary(err);
                  if (!isUnsupported(s.code)) throw err;
                  skipped.push({ path: e.path, ...s });
                  out.note(`warning: skipped dataset '${e.path}': [${s.code}] ${s.message}`);
                  continue;
                }
                const opts: CreateDatasetOptions =
                  dtype === 'string'
                    ? { dtype, shape }
                    : datasetOptions({ dtype: dtype as NumericDType, shape }, config, chunkBytes);
                if (values.fletcher32 && dtype !== 'string' && shape.length > 0 && !shape.includes(0)) {
                  opts.fletcher32 = true;
                  opts.chunks ??= chunkShapeFor(shape, ds.byteLength / Math.max(1, ds.size), chunkBytes);
                }
                const copy = dst.createDataset(e.path, opts);
                if (data.length > 0) await copy.write(data);
                copyAttrs(ds.handle, copy.handle, e.path, problems, skipped, out);
                tensors++;
                logical += ds.byteLength;
                bar.update(logical, e.path);
              }
            }
            if (problems.length) {
              throw new H5Error(`cannot repack '${input}' without losing data: ${problems.join('; ')}`, {
                code: 'H5_UNSUPPORTED',
              });
            }
          } finally {
            await dst.closeAsync();
          }
        },
      });
      bar.end();
    } finally {
      src.close();
    }
    const ms = performance.now() - t0;
    const outBytes = statSync(output).size;
    const result = {
      input,
      output,
      compression,
      level: level ?? null,
      shuffle: !!values.shuffle,
      fletcher32: !!values.fletcher32,
      chunkBytes,
      datasets: tensors,
      logicalBytes: logical,
      inputBytes: inBytes,
      outputBytes: outBytes,
      ratio: logical / outBytes,
      ms,
      skipped,
    };
    if (out.json) {
      out.emitJson(result);
    } else {
      const pipeline = `${values.shuffle ? 'shuffle+' : ''}${compression}${level !== undefined ? `-${level}` : ''}${values.fletcher32 ? '+fletcher32' : ''}`;
      out.line(
        `repacked ${tensors} datasets (${formatBytes(logical)}) with ${pipeline} in ${formatMs(ms)}${skipped.length ? `; left out ${skipped.length} value${skipped.length > 1 ? 's' : ''} of types h5vault cannot represent yet (listed above)` : ''}`,
      );
      out.line(
        `${inBytes === null ? '(in place)' : `${input}: ${formatBytes(inBytes)}`} -> ${output}: ${formatBytes(outBytes)} (ratio ${result.ratio.toFixed(2)}x)`,
      );
    }
    return EXIT.OK;
  },
};
