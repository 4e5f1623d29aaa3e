/** Entry point of `npm run bench:compare` (run with vite-node; see bench/compare.ts for options). */
import { main } from '../compare.js';

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`bench:compare: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
