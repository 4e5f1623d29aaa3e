/**
 * `h5vault convert IN OUT`: a model between safetensors and h5vault's model
 * format (convertModel), SHA-256 checked end to end, output published
 * atomically. Exit 0 on success, 1 when a checksum does not match, 3 when a
 * file cannot be read or written.
 */
import type { Command } from './command.js';
import { convertModel, type OutputFormat } from '../formats/convert.js';
import type { Compression } from '../h5/group.js';
import { INPUT_OPTIONS, oneOf, parse, str } from './args.js';
import { EXIT, formatBytes, formatMs, Output } from './output.js';

const USAGE = `Usage: h5vault convert IN OUT [--to safetensors|h5vault] [--compression C] [--shuffle] [--untrusted] [--force] [--json]

Converts a model between safetensors and h5vault's model format (saveModel),
in either direction: tensor names, dtypes (bfloat16, 8-bit floats) and
metadata are kept (mapping: docs/runtime.md#safetensors). The input format is
detected from its first bytes; the output format from OUT's extension
(.safetensors; .h5, .hdf5, .h5vault) unless --to names it.
Every tensor's SHA-256 is checked on read (h5vault inputs carry them) and
again on the written temp file before OUT is published (a mismatch leaves
an existing OUT as it was).
--compression (h5vault output): none, gzip, lzf, lz4, zstd, bitshuffle (+LZ4) (default none: viewable).
--untrusted (h5vault input): walk the file in a sandboxed child process first.
--force: replace an existing OUT (without it an existing OUT is H5_EXISTS, exit 3).`;

const CODECS = new Set(['none', 'gzip', 'lzf', 'lz4', 'zstd', 'bitshuffle']);

export const command: Command = {
  summary: 'convert a model between safetensors and h5vault (SHA-256 checked end to end)',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        ...INPUT_OPTIONS,
        to: { type: 'string' },
        compression: { type: 'string' },
        shuffle: { type: 'boolean' },
        force: { type: 'boolean', short: 'f' },
      },
      { min: 2, max: 2, names: 'IN OUT' },
    );
    const out = new Output(values);
    const to = oneOf(str(values.to), '--to', ['safetensors', 'h5vault'] as const);
    const compression = oneOf(str(values.compression), '--compression', [...CODECS]);
    const [input, output] = positionals as [string, string];
    const t0 = performance.now();
    let bar: ReturnType<Output['progress']> | undefined;
    const r = await convertModel(input, output, {
      to: to as OutputFormat | undefined,
      compression: compression as Compression | undefined,
      shuffle: !!values.shuffle,
      untrusted: !!values.untrusted,
      // Checked by the publisher, atomically (a link never replaces): H5_EXISTS naming OUT.
      overwrite: !!values.force,
      onProgress: (done, total) => {
        bar ??= out.progress('converting', total);
        bar.update(done, '');
      },
    });
    bar?.end();
    const ms = performance.now() - t0;
    if (out.json) {
      out.emitJson({ ok: true, ...r, ms });
    } else {
      out.line(`${r.input} (${r.from}) -> ${r.output} (${r.to})`);
      out.line(
        out.style(
          `OK: ${r.tensors} tensors, ${formatBytes(r.bytes)} in ${formatMs(ms)}; every tensor's SHA-256 verified in the output`,
          'green',
        ),
      );
      out.line(`model digest ${r.modelDigest}`);
      out.line(`file SHA-256 ${r.digest}`);
      if (r.copied.length) out.line(`copied into memory on the way (not viewable in place): ${r.copied.join(', ')}`);
    }
    return EXIT.OK;
  },
};
