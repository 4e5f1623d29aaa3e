// Types of the exports of common.mjs that TypeScript code imports (the
// conformance harness shares the corpus and its file list with the benchmarks).

/** The committed conformance corpus: public files from other projects (test/fixtures/conformance/SOURCES.md). */
export declare const CORPUS: string;
/** The HDF5 files under `paths` (default: CORPUS), resolved, in a stable order. */
export declare function corpusFiles(paths?: string[]): string[];
