import { Agent, createServer, request, type Server } from 'node:http';

export type Node = 'a' | 'b';

/**
 * A minimal HTTP load balancer in front of two Latchkey nodes on 127.0.0.1: every request goes
 * to the node `target` names, or alternately to each with `round-robin`. Both nodes are given
 * its URL as their issuer, as they would be behind a real one. Counts what each node served.
 */
export class Balancer {
  target: Node | 'round-robin' = 'a';
  readonly served: Record<Node, number> = { a: 0, b: 0 };
  private readonly backends: Partial<Record<Node, number>> = {};
  private next: Node = 'a';
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 128 });

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Listens first, so the nodes can be started with its URL as their issuer. */
  static async start(): Promise<Balancer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const balancer = new Balancer(server, (server.address() as { port: number }).port);
    server.on('request', (req, res) => {
      const node = balancer.pick();
      const port = balancer.backends[node];
      if (port === undefined) {
        res.writeHead(502).end();
        return;
      }
      balancer.served[node]++;
      const upstream = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers, agent: balancer.agent }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.headersSent || res.writeHead(502).end());
      req.pipe(upstream);
    });
    return balancer;
  }

  get origin(): string {
    return `http://localhost:${this.port}`;
  }

  setBackend(node: Node, port: number): void {
    this.backends[node] = port;
  }

  /** Sends the requests made inside `fn` to `node`, then restores the previous target. */
  async on<T>(node: Node | 'round-robin', fn: () => Promise<T>): Promise<T> {
    const previous = this.target;
    this.target = node;
    try {
      return await fn();
    } finally {
      this.target = previous;
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.agent.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pick(): Node {
    if (this.target !== 'round-robin') return this.target;
    const node = this.next;
    this.next = node === 'a' ? 'b' : 'a';
    return node;
  }
}
