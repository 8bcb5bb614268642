import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, launchLatchkey } from '../helpers/process.ts';

describe('graceful shutdown on SIGTERM', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-shutdown-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('stops accepting, finishes the request in flight, closes the pool and exits 0', async () => {
    const port = await freePort();
    const run = launchLatchkey(dir, { PORT: String(port), LOG_LEVEL: 'info' });
    let signalled = false;
    try {
      await run.ready;
      // An idle keep-alive connection must not hold the shutdown up.
      assert.equal((await fetch(`http://localhost:${port}/healthz`)).status, 200);

      // A request in flight: headers and half of the body sent, the rest after SIGTERM.
      const socket = connect(port, '127.0.0.1');
      let response = '';
      socket.on('data', (d) => (response += d));
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      const body = 'grant_type=client_credentials&scope=openid';
      socket.write(
        `POST /token HTTP/1.1\r\nHost: localhost:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
          `Content-Length: ${body.length}\r\nX-Request-Id: in-flight-1\r\n\r\n${body.slice(0, 10)}`,
      );
      await sleep(200);

      run.child.kill('SIGTERM');
      signalled = true;
      await sleep(300);
      assert.equal(run.child.exitCode, null, 'still running while a request is in flight');
      await assert.rejects(fetch(`http://localhost:${port}/healthz`), 'new connections are refused');

      socket.write(body.slice(10));
      await closed;
      assert.match(response, /^HTTP\/1\.1 40[01] /, 'the in-flight request got its answer');
      assert.match(response, /x-request-id: in-flight-1/i);
    } finally {
      // A second SIGTERM would kill it outright: only send one if the test stopped before it.
      if (!signalled) run.child.kill('SIGTERM');
    }
    assert.equal(await run.exited, 0, 'graceful shutdown exits 0');
    assert.match(run.output(), /"msg":"shutting down: finishing in-flight requests"/);
    assert.match(run.output(), /"msg":"shutdown complete"/);
  });
});
