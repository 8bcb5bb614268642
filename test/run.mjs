// Runs the test suites with node's built-in runner. Node 20 does not expand globs in
// `node --test`, so this finds the files: `node test/run.mjs [folder ...]` (default: all of test/).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const folders = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['test'];
const files = folders
  .flatMap((folder) => readdirSync(join(root, folder), { recursive: true }).map((f) => join(folder, String(f))))
  .filter((f) => f.endsWith('.test.ts') && !f.includes('node_modules'))
  .sort();
if (files.length === 0) {
  console.error(`no test files under ${folders.join(', ')}`);
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files.map((f) => relative(root, join(root, f)))], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
