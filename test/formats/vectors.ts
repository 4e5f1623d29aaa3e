/**
 * The byte examples published in the reference implementation's unit tests:
 * github.com/huggingface/safetensors, safetensors/src/tensor.rs, module
 * `tests` (commit 24b0b2857fef49be734b9ab72ce97c09bb25f5b9, Apache-2.0).
 * They are test vectors (facts about the format), transcribed byte for byte;
 * `test` names the reference test each comes from, `reason` is the
 * H5_SAFETENSORS_INVALID reason h5vault gives where the reference refuses.
 */

const zeros = (n: number): string => '\0'.repeat(n);
const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const T = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';

export interface Vector {
  name: string;
  test: string;
  bytes: Buffer;
  ok: boolean;
  names?: string[];
  shapes?: Record<string, number[]>;
  byteLengths?: Record<string, number>;
  reason?: string;
}

export const REFERENCE_VECTORS: Vector[] = [
  {
    name: 'deserialization',
    test: 'test_deserialization',
    bytes: b(`<${zeros(7)}${T}${zeros(16)}`),
    ok: true,
    names: ['test'],
    shapes: { test: [2, 2] },
    byteLengths: { test: 16 },
  },
  {
    name: 'empty-shapes',
    test: 'test_empty_shapes_allowed',
    bytes: b(`8${zeros(7)}{"test":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}${zeros(4)}`),
    ok: true,
    names: ['test'],
    shapes: { test: [] },
    byteLengths: { test: 4 },
  },
  {
    name: 'zero-sized',
    test: 'test_zero_sized_tensor',
    bytes: b(`<${zeros(7)}{"test":{"dtype":"I32","shape":[2,0],"data_offsets":[0, 0]}}`),
    ok: true,
    names: ['test'],
    shapes: { test: [2, 0] },
    byteLengths: { test: 0 },
  },
  {
    name: 'whitespace-trailing',
    test: 'test_whitespace_padded_header',
    bytes: b(`\x06${zeros(7)}{}\x0D\x20\x09\x0A`),
    ok: true,
    names: [],
    shapes: {},
    byteLengths: {},
  },
  // Refused by h5vault, accepted by the reference since its PR #686: the
  // format's README says the header MUST begin with '{' and h5vault keeps
  // that rule (docs/runtime.md#safetensors).
  {
    name: 'whitespace-leading',
    test: 'test_whitespace_leading_padded_header',
    bytes: b(`\x06${zeros(7)}\x09\x0A{}\x0D\x20`),
    ok: false,
    reason: 'header-not-object',
  },
  {
    name: 'polyglot-trailing-bytes',
    test: 'test_metadata_incomplete_buffer',
    bytes: b(`<${zeros(7)}${T}${zeros(16)}extra_bogus_data_for_polyglot_file`),
    ok: false,
    reason: 'hole',
  },
  {
    name: 'missing-two-bytes',
    test: 'test_metadata_incomplete_buffer',
    bytes: b(`<${zeros(7)}${T}${zeros(14)}`),
    ok: false,
    reason: 'out-of-bounds',
  },
  {
    name: 'header-too-large',
    test: 'test_header_too_large',
    bytes: b(`<${zeros(4)}\xff\xff\xff${T}${zeros(16)}`),
    ok: false,
    reason: 'header-too-large',
  },
  { name: 'header-too-small', test: 'test_header_too_small', bytes: b(''), ok: false, reason: 'file-too-small' },
  {
    name: 'invalid-header-length',
    test: 'test_invalid_header_length',
    bytes: b(`<${zeros(7)}`),
    ok: false,
    reason: 'header-out-of-bounds',
  },
  {
    name: 'non-utf8',
    test: 'test_invalid_header_non_utf8',
    bytes: b(`\x01${zeros(7)}\xff`),
    ok: false,
    reason: 'header-not-object',
  },
  {
    name: 'not-json',
    test: 'test_invalid_header_not_json',
    bytes: b(`\x01${zeros(7)}{`),
    ok: false,
    reason: 'header-not-json',
  },
  {
    name: 'invalid-info',
    test: 'test_invalid_info',
    bytes: b(`<${zeros(7)}{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0, 4]}}`),
    ok: false,
    reason: 'shape-mismatch',
  },
  {
    name: 'overflow-shape',
    test: 'test_validation_overflow',
    bytes: b(`O${zeros(7)}{"test":{"dtype":"I32","shape":[2,18446744073709551614],"data_offsets":[0,16]}}${zeros(16)}`),
    ok: false,
    reason: 'overflow',
  },
  {
    name: 'overflow-bytes',
    test: 'test_validation_overflow',
    bytes: b(`N${zeros(7)}{"test":{"dtype":"I32","shape":[2,9223372036854775807],"data_offsets":[0,16]}}${zeros(16)}`),
    ok: false,
    reason: 'overflow',
  },
];
