import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import knex from 'knex';

const root = new URL('../..', import.meta.url).pathname;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs src/main.ts as `npm start` does, in its own working directory. */
function launch(cwd: string, env: Record<string, string>) {
  // tsx resolved from here: the child runs in another working directory.
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(root, 'src/main.ts')], {
    cwd,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in 30 s:\n${output}`)), 30_000);
    child.stdout.on('data', () => {
      if (output.includes('Latchkey issuer:')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}:\n${output}`));
    });
  });
  return { child, ready, exited, output: () => output };
}

describe('npm start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-start-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the database, migrates, generates keys, serves discovery, and stops on SIGTERM', async () => {
    const port = await freePort();
    const run = launch(dir, { PORT: String(port) });
    try {
      await run.ready;
      assert.match(run.output(), new RegExp(`Latchkey issuer: http://localhost:${port}`));
      const discovery = await fetch(`http://localhost:${port}/.well-known/openid-configuration`);
      assert.equal(discovery.status, 200);
      assert.equal(((await discovery.json()) as { issuer: string }).issuer, `http://localhost:${port}`);
    } finally {
      run.child.kill('SIGTERM');
    }
    assert.equal(await run.exited, 0, 'graceful shutdown exits 0');
    const file = join(dir, 'data', 'latchkey.sqlite3');
    assert.ok(existsSync(file), 'the default SQLite file is created under ./data');
    const db = knex({ client: 'sqlite3', connection: { filename: file }, useNullAsDefault: true });
    try {
      const keys = await db('signing_keys').select('use', 'alg');
      assert.deepEqual(keys.map((k) => `${k.use}:${k.alg ?? ''}`).sort(), ['cookie:', 'sig:ES256', 'sig:RS256']);
    } finally {
      await db.destroy();
    }

    // A second start reuses the keys: tokens and cookies survive a restart.
    const second = launch(dir, { PORT: String(await freePort()) });
    try {
      await second.ready;
    } finally {
      second.child.kill('SIGTERM');
    }
    await second.exited;
    const again = knex({ client: 'sqlite3', connection: { filename: file }, useNullAsDefault: true });
    try {
      assert.equal((await again('signing_keys').count({ n: '*' }))[0]!.n, 3);
    } finally {
      await again.destroy();
    }
  });

  for (const [variable, value] of [
    ['PORT', 'eighty'],
    ['LATCHKEY_ISSUER', 'http://login.example.com'],
    ['DATABASE_URL', 'mysql://localhost/latchkey'],
  ] as const) {
    it(`refuses to start with a bad ${variable}, naming it`, async () => {
      const run = launch(dir, { PORT: '3999', [variable]: value });
      await assert.rejects(run.ready);
      assert.equal(await run.exited, 1);
      assert.match(run.output(), new RegExp(`Latchkey cannot start: ${variable}:`));
    });
  }
});
