/**
 * scripts/check/native-size.mjs, the size check of check:sources: its brace
 * counter must find C++ functions and their lengths without being fooled by
 * braces in literals, comments or macros, and must flag files over 600 lines
 * and functions over 120; and the lib/ TypeScript files over 600 lines.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  functions,
  LIB_PENDING,
  libSizeProblems,
  measure,
  PENDING,
  sizeProblems,
} from '../../scripts/check/native-size.mjs';

const lengths = (src: string) => functions(src).map((f) => [f.name, f.start, f.lines]);

describe('the native function counter', () => {
  it('is not fooled by braces in strings, characters, comments, raw strings and macros', () => {
    const src = [
      '#define OPEN {', // 1
      '#define CLOSE \\', // 2
      '  }', // 3
      'namespace a {', // 4
      '// } a comment brace', // 5
      'int f(int x) {', // 6
      '  const char* s = "}}{ \\" }";', // 7
      "  char c = '}';", // 8
      "  char q = '\\'';", // 9
      '  /* { */ auto r = R"x(})x";', // 10
      "  int n = 1'000;", // 11
      '  return x;', // 12
      '}', // 13
      '}  // namespace a', // 14
    ].join('\n');
    expect(lengths(src)).toEqual([['f', 6, 8]]);
  });

  it('finds methods in classes and counts lambdas and blocks with their function', () => {
    const src = [
      'namespace n {', // 1
      'enum class K { A, B };', // 2
      'static const int kTable[] = {1, 2, 3};', // 3
      'class C {', // 4
      ' public:', // 5
      '  C(int a) : a_(a) {}', // 6
      '  int get() const {', // 7
      '    auto l = [&](int v) { return v + a_; };', // 8
      '    if (a_) {', // 9
      '      return l(1);', // 10
      '    }', // 11
      '    return 0;', // 12
      '  }', // 13
      ' private:', // 14
      '  int a_;', // 15
      '};', // 16
      'template <typename T>', // 17
      'bool C2<T>::run(const std::vector<T>& v,', // 18
      '                int depth) noexcept {', // 19
      '  return true;', // 20
      '}', // 21
      'extern "C" {', // 22
      'void g() {}', // 23
      '}', // 24
      '}  // namespace n', // 25
    ].join('\n');
    expect(lengths(src)).toEqual([
      ['C', 6, 1],
      ['get', 7, 7],
      ['C2<T>::run', 17, 5],
      ['g', 23, 1],
    ]);
  });
});

describe('sizeProblems', () => {
  let root = '';
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const tree = (files: Record<string, string>) => {
    root = mkdtempSync(join(tmpdir(), 'h5v-native-size-'));
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(root, 'native', 'x'), { recursive: true });
      writeFileSync(join(root, 'native', 'x', name), text);
    }
    return root;
  };
  const fn = (name: string, bodyLines: number) => `int ${name}() {\n${'  step();\n'.repeat(bodyLines)}  return 0;\n}\n`;

  it('flags a file over 600 lines and a function over 120, and passes the limits themselves', () => {
    tree({
      'ok.cc': `${fn('fits', 117)}${'\n'.repeat(600 - 120)}`, // 120-line function, 600-line file
      'big.h': '// x\n'.repeat(601),
      'long.cc': fn('too_long', 118),
    });
    expect(measure(root).files.find((f) => f.file === 'native/x/ok.cc')?.lines).toBe(600);
    const { problems } = sizeProblems(root);
    expect(problems).toEqual([
      'native/x/big.h: 601 lines (limit 600): split it by concern',
      'native/x/long.cc:1: too_long is 121 lines (limit 120): extract named helpers',
    ]);
  });

  it('holds a pending function to its recorded length and names entries no longer needed', () => {
    // PENDING is empty now; the rule is checked with an entry of the test's own.
    expect(PENDING).toEqual({});
    const [key, allowed] = ['native/engine/write.cc write', 268];
    const pending = { [key]: allowed };
    const [file, name] = key.split(' ');
    root = mkdtempSync(join(tmpdir(), 'h5v-native-size-'));
    mkdirSync(join(root, file, '..'), { recursive: true });
    writeFileSync(join(root, file), fn(name, allowed - 3));
    expect(sizeProblems(root, pending).problems).toEqual([]);
    writeFileSync(join(root, file), fn(name, allowed - 2));
    expect(sizeProblems(root, pending).problems).toEqual([
      `${file}:1: ${name} is ${allowed + 1} lines (limit ${allowed}): extract named helpers`,
    ]);
    writeFileSync(join(root, file), fn(name, 10));
    expect(sizeProblems(root, pending).stale).toContain(key);
  });
});

describe('libSizeProblems', () => {
  let root = '';
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const tree = (files: Record<string, number>) => {
    root = mkdtempSync(join(tmpdir(), 'h5v-lib-size-'));
    for (const [name, lines] of Object.entries(files)) {
      mkdirSync(join(root, name, '..'), { recursive: true });
      writeFileSync(join(root, name), 'export const x = 1;\n'.repeat(lines));
    }
    return root;
  };

  it('flags a lib/ .ts file over 600 lines, at any depth, and passes 600 itself', () => {
    tree({ 'lib/ok.ts': 600, 'lib/a/b/big.ts': 601, 'lib/a/notes.md': 700 });
    expect(libSizeProblems(root, {})).toEqual({
      problems: ['lib/a/b/big.ts: 601 lines (limit 600): split it by concern'],
      stale: [],
    });
  });

  it('holds a pending file to its recorded length and names entries no longer needed', () => {
    tree({ 'lib/x.ts': 610, 'lib/y.ts': 611 });
    const pending = { 'lib/x.ts': 610, 'lib/y.ts': 610, 'lib/gone.ts': 700 };
    expect(libSizeProblems(root, pending)).toEqual({
      problems: ['lib/y.ts: 611 lines (limit 610): split it by concern'],
      stale: ['lib/gone.ts'],
    });
  });

  it('passes the repository, whose LIB_PENDING entries are all still needed', () => {
    expect(libSizeProblems(join(import.meta.dirname, '..', '..'))).toEqual({ problems: [], stale: [] });
    expect(Object.keys(LIB_PENDING).sort()).toEqual(['lib/formats/safetensors-header.ts', 'lib/model/store/local.ts']);
  });
});
