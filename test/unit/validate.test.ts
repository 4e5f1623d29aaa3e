/**
 * lib/util/validate.ts: the one place argument checks are written. Each check
 * throws `<name> must be <expected> (got <value>)`, a TypeError for the wrong
 * kind of value and a RangeError for a number out of range.
 */
import { describe, expect, it } from 'vitest';
import {
  booleanOption,
  checkBoolean,
  checkFunction,
  checkInteger,
  checkIntegers,
  checkMatch,
  checkNumber,
  checkObject,
  checkOneOf,
  checkPath,
  checkSignal,
  checkString,
  choices,
  describe as describeValue,
  fileTarget,
  functionOption,
  integerOption,
  mustBe,
  numberOption,
  oneOfOption,
  signalOption,
  stringOption,
} from '../../lib/util/validate.js';
import { thrown } from '../helpers.js';

describe('describe', () => {
  it('shows a value short and typed', () => {
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(null)).toBe('null');
    expect(describeValue('yes')).toBe("'yes'");
    expect(describeValue('x'.repeat(100))).toBe(`'${'x'.repeat(40)}…'`);
    expect(describeValue(1.5)).toBe('1.5');
    expect(describeValue(NaN)).toBe('NaN');
    expect(describeValue(3n)).toBe('3n');
    expect(describeValue(true)).toBe('true');
    expect(describeValue(() => 1)).toBe('a function');
    expect(describeValue(Symbol('s'))).toBe('a symbol');
    expect(describeValue([1, -2])).toBe('[1, -2]');
    expect(describeValue([{}])).toBe('an array');
    expect(describeValue(new Array(9).fill(0))).toBe('an array');
    expect(describeValue({})).toBe('an object');
    expect(describeValue(Object.create(null))).toBe('an object');
    expect(describeValue(new Float32Array(2))).toBe('a Float32Array');
    expect(describeValue(new Date(0))).toBe('a Date');
  });

  it('mustBe is the one message format; choices lists names', () => {
    expect(mustBe('options.copy', 'a boolean', 'yes')).toBe("options.copy must be a boolean (got 'yes')");
    expect(choices(['r'])).toBe("'r'");
    expect(choices(['r', 'r+'])).toBe("'r' or 'r+'");
    expect(choices(['a', 'b', 'c'])).toBe("'a', 'b' or 'c'");
  });
});

describe('checks', () => {
  it('checkObject: objects pass; null, arrays, typed arrays and primitives are TypeErrors', () => {
    checkObject({});
    checkObject(Object.create(null));
    for (const bad of [null, undefined, [], new Uint8Array(1), 'o', 1]) {
      const e = thrown(() => checkObject(bad));
      expect(e).toBeInstanceOf(TypeError);
      expect(e.message).toBe(`options must be an object (got ${describeValue(bad)})`);
    }
    expect(thrown(() => checkObject(1, 'dataset options')).message).toBe('dataset options must be an object (got 1)');
  });

  it('checkBoolean, checkString, checkFunction, checkSignal', () => {
    checkBoolean(false, 'b');
    expect(thrown(() => checkBoolean(0, 'b'))).toEqual(new TypeError('b must be a boolean (got 0)'));
    checkString('x', 's');
    expect(thrown(() => checkString('', 's'))).toEqual(new TypeError("s must be a non-empty string (got '')"));
    expect(thrown(() => checkString(7, 's'))).toEqual(new TypeError('s must be a non-empty string (got 7)'));
    checkFunction(() => 1, 'f');
    expect(thrown(() => checkFunction({}, 'f'))).toEqual(new TypeError('f must be a function (got an object)'));
    checkSignal(new AbortController().signal);
    expect(thrown(() => checkSignal({ aborted: false }))).toEqual(
      new TypeError('options.signal must be an AbortSignal (got an object)'),
    );
  });

  it('checkInteger: TypeError for a non-number, RangeError for a fraction or out of range', () => {
    checkInteger(0, 'n');
    checkInteger(1024, 'n', 0, 1024);
    expect(thrown(() => checkInteger('1', 'n', 1))).toEqual(new TypeError("n must be a positive integer (got '1')"));
    expect(thrown(() => checkInteger(2.5, 'n', 1, 1024))).toEqual(
      new RangeError('n must be an integer from 1 to 1024 (got 2.5)'),
    );
    expect(thrown(() => checkInteger(-1, 'n'))).toEqual(new RangeError('n must be a non-negative integer (got -1)'));
    expect(thrown(() => checkInteger(4, 'n', 5))).toEqual(new RangeError('n must be an integer >= 5 (got 4)'));
    expect(thrown(() => checkInteger(2 ** 53, 'n'))).toBeInstanceOf(RangeError);
    expect(thrown(() => checkInteger(10, 'n', 1, 9, 'an odd number to 9')).message).toBe(
      'n must be an odd number to 9 (got 10)',
    );
  });

  it('checkIntegers: arrays of integers >= min', () => {
    checkIntegers([], 'shape');
    checkIntegers([0, 3], 'shape');
    expect(thrown(() => checkIntegers([1, -1], 'shape'))).toEqual(
      new TypeError('shape must be an array of non-negative integers (got [1, -1])'),
    );
    expect(thrown(() => checkIntegers([0], 'chunks', 1))).toEqual(
      new TypeError('chunks must be an array of positive integers (got [0])'),
    );
    expect(thrown(() => checkIntegers(3, 'shape'))).toBeInstanceOf(TypeError);
  });

  it('checkNumber: finite unless infinite is allowed, bounds inclusive (min) or exclusive (above)', () => {
    checkNumber(10, 'ms', { min: 10 });
    checkNumber(Infinity, 'bytes', { above: 0, infinite: true });
    expect(thrown(() => checkNumber('10', 'ms', { min: 10 }))).toEqual(
      new TypeError("ms must be a number >= 10 (got '10')"),
    );
    expect(thrown(() => checkNumber(9, 'ms', { min: 10 }))).toEqual(
      new RangeError('ms must be a number >= 10 (got 9)'),
    );
    expect(thrown(() => checkNumber(0, 'b', { above: 0 }))).toEqual(
      new RangeError('b must be a positive number (got 0)'),
    );
    expect(thrown(() => checkNumber(NaN, 'b', { above: 0, infinite: true }))).toBeInstanceOf(RangeError);
    expect(thrown(() => checkNumber(Infinity, 'x'))).toEqual(
      new RangeError('x must be a finite number (got Infinity)'),
    );
  });

  it('checkOneOf and checkMatch', () => {
    checkOneOf('r+', 'mode', ['r', 'r+']);
    expect(thrown(() => checkOneOf('w', 'mode', ['r', 'r+']))).toEqual(
      new TypeError("mode must be 'r' or 'r+' (got 'w')"),
    );
    checkMatch('ab', 'id', /^[a-z]+$/, 'lowercase letters');
    expect(thrown(() => checkMatch('AB', 'id', /^[a-z]+$/, 'lowercase letters'))).toEqual(
      new TypeError("id must be lowercase letters (got 'AB')"),
    );
  });

  it('checkPath and fileTarget', () => {
    checkPath('a.h5');
    expect(thrown(() => checkPath(''))).toEqual(new TypeError("path must be a non-empty string (got '')"));
    expect(fileTarget('/tmp/x.h5')).toBe('/tmp/x.h5');
    expect(thrown(() => fileTarget('/'))).toEqual(new TypeError("path must be a file path (got '/')"));
  });
});

describe('option getters', () => {
  it('read, default and check one key, named options.<key>', () => {
    expect(booleanOption({}, 'copy')).toBeUndefined();
    expect(booleanOption({}, 'copy', true)).toBe(true);
    expect(booleanOption({ copy: false }, 'copy', true)).toBe(false);
    expect(thrown(() => booleanOption({ copy: 'yes' }, 'copy'))).toEqual(
      new TypeError("options.copy must be a boolean (got 'yes')"),
    );
    expect(stringOption({ tmpDir: '/t' }, 'tmpDir')).toBe('/t');
    expect(thrown(() => stringOption({ tmpDir: '' }, 'tmpDir')).message).toBe(
      "options.tmpDir must be a non-empty string (got '')",
    );
    const f = () => 1;
    expect(functionOption({ onProgress: f }, 'onProgress')).toBe(f);
    expect(thrown(() => functionOption({ onProgress: 1 }, 'onProgress')).message).toBe(
      'options.onProgress must be a function (got 1)',
    );
    expect(signalOption({})).toBeUndefined();
    expect(thrown(() => signalOption({ signal: 'stop' })).message).toBe(
      "options.signal must be an AbortSignal (got 'stop')",
    );
    expect(integerOption({}, 'concurrency', 1, 64, 4)).toBe(4);
    expect(thrown(() => integerOption({ concurrency: 65 }, 'concurrency', 1, 64))).toEqual(
      new RangeError('options.concurrency must be an integer from 1 to 64 (got 65)'),
    );
    expect(numberOption({}, 'graceMs', { min: 0 }, 3600_000)).toBe(3600_000);
    expect(thrown(() => numberOption({ graceMs: -1 }, 'graceMs', { min: 0 }))).toEqual(
      new RangeError('options.graceMs must be a number >= 0 (got -1)'),
    );
    expect(oneOfOption({}, 'mode', ['r', 'r+'] as const, 'r')).toBe('r');
    expect(thrown(() => oneOfOption({ mode: 'w' }, 'mode', ['r', 'r+']))).toEqual(
      new TypeError("options.mode must be 'r' or 'r+' (got 'w')"),
    );
  });
});
