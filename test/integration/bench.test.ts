/**
 * `npm run bench` works from a checkout: a very short run of every target and scenario
 * completes without a failed operation and prints its figures and both ratio sections. It
 * measures nothing worth keeping (a second per scenario, two users); speed is the benchmark's
 * business, not a test's.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { START_NODE_FLAGS } from '../helpers/process.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

function bench(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/run.ts'), ...args], { cwd: ROOT, timeout: 180_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

it('runs every target and scenario and prints throughput, latency, CPU, RSS and the ratios', { timeout: 200_000 }, async () => {
  const targets = ['baseline', 'baseline-sqlite', 'sqlite', 'postgres'];
  const run = await bench('--duration', '1', '--warmup', '0.5', '--concurrency', '2', '--targets', targets.join(','), '--log-level', 'warn');
  assert.equal(run.code, 0, run.stderr);
  assert.ok(run.stdout.includes(`both servers: node ${START_NODE_FLAGS.join(' ')} --import tsx (as npm start)`), run.stdout);
  const names = { baseline: 'baseline', 'baseline-sqlite': 'baseline-sqlite', sqlite: 'latchkey-sqlite', postgres: 'latchkey-postgres' } as const;
  for (const target of targets) {
    for (const scenario of ['passkey sign-in flows', 'refresh grants', 'client-credentials grants']) {
      const line = run.stdout.split('\n').find((l) => l.startsWith(`${names[target as keyof typeof names]} `) && l.includes(scenario));
      assert.ok(line, `${target} ${scenario}:\n${run.stdout}`);
      assert.match(line, /\/s {2}p50 +[\d.]+ ms {2}p99 +[\d.]+ ms {2}server CPU +[\d.]+ ms\/op .* peak RSS +\d+ MB {2}\((\d+) ops\)$/, 'no errors, all figures');
      assert.ok(Number(/\((\d+) ops\)$/.exec(line)![1]) > 0, line);
    }
  }
  assert.match(run.stdout, /ratio of the baseline \(same run\)\n {2}latchkey-sqlite +passkey sign-in flows +[\d.]+× {2}\(CPU ratio [\d.]+×\)/);
  assert.match(run.stdout, /ratio of the persisting baseline .*\n {2}latchkey-sqlite +passkey sign-in flows +[\d.]+×/);
  assert.match(run.stdout, /Latchkey peak RSS \d+ MB/);
});

it('with --rounds, runs every target once per round and prints each ratio as the rounds\' median and range', { timeout: 200_000 }, async () => {
  const run = await bench('--duration', '0.5', '--warmup', '0.2', '--concurrency', '2', '--targets', 'baseline,sqlite', '--scenarios', 'signin', '--rounds', '2', '--log-level', 'warn');
  assert.equal(run.code, 0, run.stderr);
  const rounds = run.stdout.split(/^round \d of 2$/m).slice(1);
  assert.equal(rounds.length, 2, run.stdout);
  for (const round of rounds) {
    assert.match(round, /^baseline +passkey sign-in flows .*\((\d+) ops\)$/m);
    assert.match(round, /^latchkey-sqlite +passkey sign-in flows .*\((\d+) ops\)$/m);
  }
  assert.match(run.stdout, /ratio of the baseline \(same run; median of 2 rounds, then their range\)\n {2}latchkey-sqlite +passkey sign-in flows +[\d.]+× \([\d.]+×–[\d.]+×\)/);
  assert.match(run.stdout, /latchkey-sqlite sign-in p99 \d+ ms \(\d+ ms–\d+ ms\)/);
});
