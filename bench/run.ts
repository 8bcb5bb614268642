/**
 * `npm run bench`: drives Latchkey (SQLite and PostgreSQL) and a baseline (bare oidc-provider
 * with a minimal in-memory passkey interaction) over real HTTP with a bounded, closed-loop
 * load generator: a fixed number of concurrent users, each doing one operation after another,
 * for a fixed time. Prints throughput, p50/p99 latency, server CPU per operation and peak RSS
 * per scenario, and Latchkey's throughput as a ratio of the baseline's measured in the same run.
 *
 *   npm run bench -- [--duration 10] [--warmup 3] [--concurrency 32]
 *                    [--targets baseline,baseline-sqlite,sqlite,postgres] [--scenarios signin,refresh,cc]
 *                    [--pin 0:1] [--rounds 1] [--log-level info] [--profile DIR] [--node-flags="--max-semi-space-size=8"]
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createRemoteJWKSet } from 'jose';
import knexFactory from 'knex';
import { SoftwareAuthenticator } from '../test/helpers/authenticator.ts';
import { freePort, START_NODE_FLAGS } from '../test/helpers/process.ts';
import { clientCredentials, REDIRECT_URI, refresh, signIn, signUpBaseline, signUpLatchkey, type Target } from './flows.ts';
import type { ServerMessage } from './servers/ipc.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '32' },
    targets: { type: 'string', default: 'baseline,baseline-sqlite,sqlite,postgres' },
    scenarios: { type: 'string', default: 'signin,refresh,cc' },
    pin: { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    profile: { type: 'string' },
    'node-flags': { type: 'string' },
    rounds: { type: 'string', default: '1' },
    'pg-url': { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
});
const DURATION = Number(args.duration) * 1000;
const WARMUP = Number(args.warmup) * 1000;
const CONCURRENCY = Number(args.concurrency);
const ROUNDS = Math.max(1, Math.floor(Number(args.rounds)) || 1);
const MAX_OPS = 200_000; // a hard bound on each scenario, whatever the duration
type TargetKind = 'baseline' | 'baseline-sqlite' | 'sqlite' | 'postgres';
const TARGETS = args.targets.split(',') as TargetKind[];
const isBaseline = (kind: TargetKind) => kind === 'baseline' || kind === 'baseline-sqlite';
const SCENARIOS = args.scenarios.split(',') as ('signin' | 'refresh' | 'cc')[];
const [serverCore, loadCore] = args.pin ? args.pin.split(':') : [];
const ROOT = new URL('..', import.meta.url).pathname;
const CLIENT_SECRET = randomBytes(32).toString('base64url');
/** Both servers run with `npm start`'s node flags (package.json), so they compare like for like; `--node-flags` tries others. */
const SERVER_NODE_FLAGS = args['node-flags'] === undefined ? START_NODE_FLAGS : args['node-flags'].split(/\s+/).filter(Boolean);

interface Result {
  readonly target: string;
  readonly scenario: string;
  readonly ops: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly cpuMsPerOp: number;
  readonly queriesPerOp: number;
  readonly peakRssMb: number;
}

/** A server process with its IPC channel: stats on request, mail as it is sent. */
class ServerProcess {
  private readonly mail = new Map<string, string>();
  private readonly mailWaiters = new Map<string, (code: string) => void>();
  private statsWaiter?: (stats: Extract<ServerMessage, { type: 'stats' }>) => void;
  readonly ready: Promise<number>;
  private stderr = '';

  constructor(readonly child: ChildProcess) {
    child.stderr?.on('data', (d) => (this.stderr += d));
    this.ready = new Promise((resolve, reject) => {
      child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${this.stderr}`)));
      child.on('message', (message: ServerMessage) => {
        if (message.type === 'ready') resolve(message.port);
        if (message.type === 'stats') this.statsWaiter?.(message);
        if (message.type === 'mail') {
          const code = /\b(\d{6})\b/.exec(message.text)?.[1];
          if (!code) return;
          const waiter = this.mailWaiters.get(message.to);
          if (waiter) waiter(code);
          else this.mail.set(message.to, code);
        }
      });
    });
  }

  static start(script: string, env: Record<string, string>): ServerProcess {
    // --profile DIR: a V8 CPU profile of each server, written when it stops.
    const profile = args.profile ? ['--cpu-prof', '--cpu-prof-dir', args.profile] : [];
    const node = [process.execPath, ...profile, ...SERVER_NODE_FLAGS, '--import', 'tsx', join(ROOT, 'bench/servers', script)];
    const [command, ...argv] = serverCore === undefined ? node : ['taskset', '-c', serverCore, ...node];
    const child = spawn(command!, argv, { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    return new ServerProcess(child);
  }

  codeFor(email: string): Promise<string> {
    const known = this.mail.get(email);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => this.mailWaiters.set(email, resolve));
  }

  stats(): Promise<Extract<ServerMessage, { type: 'stats' }>> {
    return new Promise((resolve) => {
      this.statsWaiter = resolve;
      this.child.send({ type: 'stats' });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    if (this.child.connected) this.child.disconnect();
    else this.child.kill('SIGTERM');
    setTimeout(() => this.child.kill('SIGKILL'), 5000).unref();
    await exited;
  }
}

/**
 * Runs `op` in a closed loop from `CONCURRENCY` workers: warm-up, then a measured window.
 * Operations that start inside the window count; every worker stops when it closes.
 */
async function measure(name: string, scenario: string, server: ServerProcess, op: (worker: number) => Promise<void>): Promise<Result> {
  let phase: 'warmup' | 'measure' | 'done' = 'warmup';
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let started = 0;
  const worker = async (index: number) => {
    while (phase !== 'done' && started < MAX_OPS) {
      const counted = phase === 'measure';
      if (counted) started++;
      const t0 = performance.now();
      try {
        await op(index);
        if (counted) latencies.push(performance.now() - t0);
      } catch (error) {
        if (counted) {
          errors++;
          firstError ??= (error as Error).message;
        }
      }
    }
  };
  const workers = Array.from({ length: CONCURRENCY }, (_, i) => worker(i));
  await sleep(WARMUP);
  const before = await server.stats();
  const t0 = performance.now();
  phase = 'measure';
  await sleep(DURATION);
  phase = 'done';
  await Promise.all(workers);
  const elapsed = (performance.now() - t0) / 1000;
  const after = await server.stats();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  const ops = latencies.length;
  return {
    target: name,
    scenario,
    ops,
    errors,
    firstError,
    perSecond: ops / elapsed,
    p50: pct(0.5),
    p99: pct(0.99),
    cpuMsPerOp: (after.cpuMicros - before.cpuMicros) / 1000 / Math.max(1, ops),
    // Failed and unfinished operations' queries count too: compare runs without errors.
    queriesPerOp: (after.queries - before.queries) / Math.max(1, ops),
    peakRssMb: after.maxRss / 2 ** 20,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function runTarget(kind: TargetKind): Promise<Result[]> {
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
  const client = {
    client_id: 'bench',
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
  };
  let schema: string | undefined;
  let server: ServerProcess;
  if (isBaseline(kind)) {
    server = ServerProcess.start('baseline.ts', {
      PORT: String(port),
      BENCH_ISSUER: issuer,
      BENCH_CLIENT: JSON.stringify({ ...client, client_secret: CLIENT_SECRET }),
      ...(kind === 'baseline-sqlite' ? { BENCH_STORE_FILE: join(dir, 'baseline.sqlite3') } : {}),
    });
  } else {
    const clientsFile = join(dir, 'clients.json');
    // Latchkey issues client-credentials tokens only for its management API, to clients whose
    // `scope` names an API scope.
    const scope = 'openid email offline_access users:read';
    writeFileSync(clientsFile, JSON.stringify([{ ...client, scope, client_secret_env: 'BENCH_CLIENT_SECRET', first_party: true }]));
    let databaseUrl = `sqlite:${join(dir, 'latchkey.sqlite3')}`;
    if (kind === 'postgres') {
      schema = `lk_bench_${randomBytes(4).toString('hex')}`;
      const admin = knexFactory({ client: 'pg', connection: args['pg-url'] });
      await admin.raw('CREATE SCHEMA ??', [schema]);
      await admin.destroy();
      const url = new URL(args['pg-url']);
      url.searchParams.set('schema', schema);
      databaseUrl = url.href;
    }
    server = ServerProcess.start('latchkey.ts', {
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      LATCHKEY_CLIENTS_FILE: clientsFile,
      BENCH_CLIENT_SECRET: CLIENT_SECRET,
      LOG_LEVEL: args['log-level'],
      // Rate limits stay on (their counters cost what they cost) but never refuse the load.
      LATCHKEY_RATE_LIMIT_SCALE: '10000',
    });
  }
  const name = isBaseline(kind) ? kind : `latchkey-${kind}`;
  try {
    await server.ready;
    const target: Target = { issuer, clientId: 'bench', clientSecret: CLIENT_SECRET, csrf: !isBaseline(kind), jwks: createRemoteJWKSet(new URL(`${issuer}/jwks`)) };

    // Setup (not measured): one person and passkey per worker, signed up the product's way.
    const people = Array.from({ length: CONCURRENCY }, () => new SoftwareAuthenticator({ origin: issuer }));
    for (const [i, authenticator] of people.entries()) {
      const email = `bench-${i}@example.com`;
      if (isBaseline(kind)) await signUpBaseline(target, authenticator, email);
      else await signUpLatchkey(target, authenticator, email, (e) => server.codeFor(e));
    }

    const results: Result[] = [];
    for (const scenario of SCENARIOS) {
      let result: Result;
      if (scenario === 'signin') {
        result = await measure(name, scenario, server, async (w) => void (await signIn(target, people[w]!)));
      } else if (scenario === 'refresh') {
        const tokens = await Promise.all(people.map(async (a) => String((await signIn(target, a, { offline: true })).refresh_token)));
        result = await measure(name, scenario, server, async (w) => {
          tokens[w] = await refresh(target, tokens[w]!);
        });
      } else {
        result = await measure(name, scenario, server, () => clientCredentials(target));
      }
      print(result);
      results.push(result);
    }
    return results;
  } finally {
    await server.stop();
    if (schema) {
      const admin = knexFactory({ client: 'pg', connection: args['pg-url'] });
      await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
      await admin.destroy();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

const LABELS = { signin: 'passkey sign-in flows', refresh: 'refresh grants', cc: 'client-credentials grants' } as const;

function print(r: Result): void {
  const errors = r.errors ? `  ${r.errors} errors (first: ${r.firstError})` : '';
  console.log(
    `${r.target.padEnd(17)} ${LABELS[r.scenario as keyof typeof LABELS].padEnd(26)} ${r.perSecond.toFixed(0).padStart(6)}/s  ` +
      `p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  ` +
      `server CPU ${r.cpuMsPerOp.toFixed(2).padStart(5)} ms/op  ${r.queriesPerOp.toFixed(1).padStart(4)} queries/op  peak RSS ${r.peakRssMb.toFixed(0).padStart(4)} MB  (${r.ops} ops)${errors}`,
  );
}

function printSettings(): void {
  console.log('Latchkey benchmark');
  console.log(`  node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`  ${CONCURRENCY} concurrent users (closed loop), ${WARMUP / 1000} s warm-up, ${DURATION / 1000} s measured per scenario, at most ${MAX_OPS} operations`);
  if (ROUNDS > 1) console.log(`  ${ROUNDS} rounds, each running every target in turn; ratios are per round, printed as their median and range`);
  console.log(`  targets: ${TARGETS.join(', ')}; scenarios: ${SCENARIOS.join(', ')}`);
  console.log(`  Latchkey LOG_LEVEL=${args['log-level']}, rate limits on (LATCHKEY_RATE_LIMIT_SCALE=10000), ES256 ID tokens; the load generator validates every ID token`);
  const flagsFrom = args['node-flags'] === undefined ? 'as npm start' : 'from --node-flags';
  console.log(`  both servers: node ${SERVER_NODE_FLAGS.join(' ')} --import tsx (${flagsFrom})`);
  console.log(serverCore === undefined ? '  not pinned (pass --pin SERVER_CORE:LOAD_CORE to pin)' : `  server pinned to core ${serverCore}, load generator to core ${loadCore}`);
  console.log('');
}

if (loadCore !== undefined) execFileSync('taskset', ['-cp', loadCore, String(process.pid)], { stdio: 'ignore' });
printSettings();
// Each round runs every target once, so every round has ratios of its own measured minutes apart.
const rounds: Result[][] = [];
for (let round = 1; round <= ROUNDS; round++) {
  if (ROUNDS > 1) console.log(`${round > 1 ? '\n' : ''}round ${round} of ${ROUNDS}`);
  const results: Result[] = [];
  for (const target of TARGETS) results.push(...(await runTarget(target)));
  rounds.push(results);
}

const find = (results: readonly Result[], target: string, scenario: string) => results.find((r) => r.target === target && r.scenario === scenario);
const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return Number.isInteger(middle) ? (sorted[middle - 1]! + sorted[middle]!) / 2 : sorted[Math.floor(middle)]!;
};
/** One round: the figure. Several: their median, then their range. */
const summarize = (values: readonly number[], format: (value: number) => string) =>
  values.length === 1 ? format(values[0]!) : `${format(median(values))} (${format(Math.min(...values))}–${format(Math.max(...values))})`;
const times = (ratio: number) => `${ratio.toFixed(2)}×`;
const latchkey = rounds[0]!.filter((r) => r.target.startsWith('latchkey-'));
const label = (r: Result) => `  ${r.target.padEnd(17)} ${LABELS[r.scenario as keyof typeof LABELS].padEnd(26)}`;

/**
 * Latchkey's throughput as a ratio of a baseline's, round by round; beside it the CPU ratio
 * (the baseline's CPU per operation ÷ Latchkey's): what one saturated core would sustain, which
 * moves much less than throughput when something else loads the machine.
 */
function printRatios(title: string, baselineName: string, targetFor: (r: Result) => number | undefined): void {
  const rows = latchkey.filter((r) => find(rounds[0]!, baselineName, r.scenario));
  if (rows.length === 0) return;
  console.log(`\n${title}`);
  for (const r of rows) {
    const pairs = rounds.map((results) => ({ base: find(results, baselineName, r.scenario)!, own: find(results, r.target, r.scenario)! }));
    const throughput = pairs.map(({ base, own }) => own.perSecond / base.perSecond);
    const cpu = pairs.map(({ base, own }) => base.cpuMsPerOp / own.cpuMsPerOp);
    const target = targetFor(r);
    const verdict = target === undefined ? '' : `  (target ≥ ${target.toFixed(1)}×: ${median(throughput) >= target ? 'met' : 'NOT met'})`;
    console.log(`${label(r)} ${summarize(throughput, times)}  (CPU ratio ${summarize(cpu, times)})${verdict}`);
  }
}

const sameRun = ROUNDS > 1 ? `same run; median of ${ROUNDS} rounds, then their range` : 'same run';
printRatios(`Latchkey throughput as a ratio of the baseline (${sameRun})`, 'baseline', (r) =>
  r.scenario === 'signin' ? (r.target.endsWith('sqlite') ? 1.0 : 0.8) : r.scenario === 'refresh' ? 1.0 : undefined,
);
// The targets are set against the in-memory baseline; the persisting one shows what durable state costs by itself.
printRatios(`Latchkey throughput as a ratio of the persisting baseline (oidc-provider state in SQLite, ${sameRun})`, 'baseline-sqlite', () => undefined);
for (const r of latchkey.filter((r) => r.scenario === 'signin')) {
  const p99 = rounds.map((results) => find(results, r.target, 'signin')!.p99);
  console.log(`  ${r.target} sign-in p99 ${summarize(p99, (ms) => `${ms.toFixed(0)} ms`)} (target ≤ 250 ms: ${median(p99) <= 250 ? 'met' : 'NOT met'})`);
}
const peak = Math.max(...rounds.flat().filter((r) => r.target.startsWith('latchkey-')).map((r) => r.peakRssMb));
const ofRounds = ROUNDS > 1 ? ', the highest of every round' : '';
if (Number.isFinite(peak)) console.log(`  Latchkey peak RSS ${peak.toFixed(0)} MB${ofRounds} (target ≤ 250 MB: ${peak <= 250 ? 'met' : 'NOT met'})`);
