import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

export const ROOT = new URL('../..', import.meta.url).pathname;

/**
 * `npm start`'s node flags, read from package.json's start script (`node <flags> --import tsx
 * src/main.ts`), so that the processes tests and the benchmark start run as production does.
 */
export const START_NODE_FLAGS: readonly string[] = (() => {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const words = scripts.start.trim().split(/\s+/);
  const end = words.indexOf('--import');
  if (words[0] !== 'node' || end < 0) throw new Error(`the start script is not "node <flags> --import tsx …": ${scripts.start}`);
  return words.slice(1, end);
})();

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface LatchkeyProcess {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  /** Resolves once the process printed its issuer (it listens), rejects if it exits first. */
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
  output(): string;
  /**
   * What `find` finds in the output, once it is there: a log line reaches the pipe a moment
   * after the response to the request that wrote it.
   */
  waitForOutput<T>(find: (output: string) => T | undefined, timeoutMs?: number): Promise<T>;
}

/** Runs src/main.ts as `npm start` does (with its node flags), in `cwd`, listening on 127.0.0.1. */
export function launchLatchkey(cwd: string, env: Record<string, string>): LatchkeyProcess {
  // tsx resolved from here: the child runs in another working directory.
  const child = spawn(process.execPath, [...START_NODE_FLAGS, '--import', import.meta.resolve('tsx'), join(ROOT, 'src/main.ts')], {
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
  ready.catch(() => undefined);
  const waitForOutput = async <T>(find: (output: string) => T | undefined, timeoutMs = 10_000): Promise<T> => {
    for (const started = Date.now(); Date.now() - started < timeoutMs; await new Promise((resolve) => setTimeout(resolve, 20))) {
      const found = find(output);
      if (found !== undefined) return found;
    }
    throw new Error(`not in the output within ${timeoutMs} ms:\n${output}`);
  };
  return { child, ready, exited, output: () => output, waitForOutput };
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `latchkey …` as an operator would (bin/latchkey.mjs), in its own process. */
export function latchkey(env: Record<string, string>, ...args: string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'bin/latchkey.mjs'), ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
