/** What a benchmark server tells the load generator (over the child-process IPC channel). */
export type ServerMessage =
  | { type: 'ready'; port: number }
  | { type: 'mail'; to: string; text: string }
  | { type: 'stats'; cpuMicros: number; rss: number; maxRss: number; queries: number };

function send(message: ServerMessage): void {
  process.send?.(message);
}

/**
 * Answers the load generator's `stats` requests with this process's CPU time, memory and the
 * number of database queries so far (`queries()`, 0 for a server without a database).
 */
export function serveStats(queries: () => number = () => 0): void {
  process.on('message', (message: { type?: string }) => {
    if (message?.type !== 'stats') return;
    const cpu = process.cpuUsage();
    send({
      type: 'stats',
      cpuMicros: cpu.user + cpu.system,
      rss: process.memoryUsage.rss(),
      // maxRSS is in kilobytes on Linux.
      maxRss: process.resourceUsage().maxRSS * 1024,
      queries: queries(),
    });
  });
  // The parent went away: stop.
  process.on('disconnect', () => process.exit(0));
}

export function announceReady(port: number): void {
  send({ type: 'ready', port });
}

export function forwardMail(to: string, text: string): void {
  send({ type: 'mail', to, text });
}
