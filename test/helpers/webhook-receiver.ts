import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';

export interface ReceivedDelivery {
  readonly id: string;
  readonly type: string;
  readonly body: { type: string; timestamp: string; data: Record<string, unknown> };
}

/**
 * A webhook receiver on 127.0.0.1 as an application would write it: verifies the Standard
 * Webhooks signature, acknowledges each delivery id once, and can be taken down and brought
 * back on the same port.
 */
export class WebhookReceiver {
  secret: string | undefined;
  /** Deliveries accepted (2xx), in arrival order. */
  readonly accepted: ReceivedDelivery[] = [];
  /** Every request seen: id and the answer given. */
  readonly requests: { id: string; status: number }[] = [];
  /** Delivery ids that arrived again after being accepted. */
  readonly duplicates: string[] = [];
  /** Answer with this status instead of accepting (e.g. 503), while set. */
  failWith: number | undefined;
  private server: Server | undefined;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  async up(): Promise<void> {
    const server = createServer((req, res) => {
      void this.handle(req).then(
        (status) => {
          res.statusCode = status;
          res.end();
        },
        () => {
          res.statusCode = 500;
          res.end();
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Stops listening: deliveries meet a refused connection until `up()` again. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage): Promise<number> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const payload = Buffer.concat(chunks).toString();
    const id = String(req.headers['webhook-id']);
    const answer = (status: number) => {
      this.requests.push({ id, status });
      return status;
    };
    if (this.failWith !== undefined) return answer(this.failWith);
    let body: ReceivedDelivery['body'];
    try {
      body = new Webhook(this.secret!).verify(payload, {
        'webhook-id': id,
        'webhook-timestamp': String(req.headers['webhook-timestamp']),
        'webhook-signature': String(req.headers['webhook-signature']),
      }) as ReceivedDelivery['body'];
    } catch {
      return answer(401);
    }
    if (this.accepted.some((d) => d.id === id)) this.duplicates.push(id);
    else this.accepted.push({ id, type: body.type, body });
    return answer(204);
  }
}

/** Polls `check` every 50 ms until it holds or `ms` pass; false on timeout. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}
