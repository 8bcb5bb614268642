import { Webhook } from 'standardwebhooks';
import type { WebhookSender } from '../domain/webhooks.ts';

/**
 * Sends deliveries over HTTP, signed per Standard Webhooks (webhook-id, webhook-timestamp,
 * webhook-signature) with the subscription's secret. Redirects are not followed: a receiver
 * that moved must be re-subscribed, so a signed event never lands somewhere unexpected.
 */
export class FetchWebhookSender implements WebhookSender {
  constructor(private readonly timeoutMs: number, private readonly userAgent: string) {}

  async send(request: { url: string; secret: string; id: string; timestamp: Date; body: string }): Promise<{ status?: number; error?: string }> {
    const signature = new Webhook(request.secret).sign(request.id, request.timestamp, request.body);
    try {
      const response = await fetch(request.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': this.userAgent,
          'webhook-id': request.id,
          'webhook-timestamp': String(Math.floor(request.timestamp.getTime() / 1000)),
          'webhook-signature': signature,
        },
        body: request.body,
      });
      // The body is not needed; reading it frees the connection.
      await response.arrayBuffer().catch(() => undefined);
      return { status: response.status };
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      return { error: `${(error as Error).name}: ${(error as Error).message}${cause ? ` (${cause})` : ''}` };
    }
  }
}
