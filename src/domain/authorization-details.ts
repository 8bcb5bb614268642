/**
 * Rich Authorization Requests (RFC 9396) on backchannel requests: the types Latchkey accepts,
 * their schemas, and how a person reads them on the approval page.
 *
 * `transfer` — a payment the person approves:
 *   { "type": "transfer", "amount": "500.00", "currency": "EUR", "payee": "ACME", "reference"?: "Invoice 42" }
 * amount: a positive decimal with up to 2 fraction digits (string, or a JSON number);
 * currency: an ISO 4217 code (3 capital letters); payee: 1–70 printable characters;
 * reference: optional, 1–140 printable characters. Any other member is refused.
 */

export const TRANSFER_TYPE = 'transfer';

/** A rejected detail; the message goes to the application as `invalid_authorization_details`. */
export class AuthorizationDetailError extends Error {}

/** Printable text without control or format characters (what a person is shown). */
const PRINTABLE = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u;
const AMOUNT = /^(?:0|[1-9]\d{0,14})(?:\.\d{1,2})?$/;
const CURRENCY = /^[A-Z]{3}$/;
const TRANSFER_MEMBERS = new Set(['type', 'amount', 'currency', 'payee', 'reference']);

function printable(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= max && PRINTABLE.test(value) && value.trim() === value;
}

/** Checks one `transfer` detail against its schema; throws AuthorizationDetailError. */
export function validateTransfer(detail: Record<string, unknown>): void {
  for (const key of Object.keys(detail)) {
    if (!TRANSFER_MEMBERS.has(key)) throw new AuthorizationDetailError(`transfer: unknown member "${key.slice(0, 40)}"`);
  }
  const amount = typeof detail.amount === 'number' && Number.isFinite(detail.amount) ? String(detail.amount) : detail.amount;
  if (typeof amount !== 'string' || !AMOUNT.test(amount) || Number(amount) <= 0) {
    throw new AuthorizationDetailError('transfer: amount must be a positive decimal with at most 2 fraction digits');
  }
  if (typeof detail.currency !== 'string' || !CURRENCY.test(detail.currency)) {
    throw new AuthorizationDetailError('transfer: currency must be an ISO 4217 code such as EUR');
  }
  if (!printable(detail.payee, 70)) throw new AuthorizationDetailError('transfer: payee must be 1 to 70 printable characters');
  if (detail.reference !== undefined && !printable(detail.reference, 140)) {
    throw new AuthorizationDetailError('transfer: reference must be 1 to 140 printable characters');
  }
}

/** What a detail's line shows: the field (the page names it in the person's language) and its value. */
export type DetailField = 'amount' | 'payee' | 'reference' | 'details';

/**
 * A detail as lines a person reads ("Amount: 500 EUR", "To: ACME"); `type` is `transfer` or,
 * for anything else, the detail's own type. The template escapes every value.
 */
export function describeAuthorizationDetail(
  detail: Record<string, unknown>,
  /** How the page writes an amount (the person's language); plain "500.00 EUR" otherwise. */
  formatAmount: (amount: string, currency: string) => string = (amount, currency) => `${amount} ${currency}`,
): { type: string; lines: { field: DetailField; value: string }[] } {
  if (detail.type === TRANSFER_TYPE) {
    const lines: { field: DetailField; value: string }[] = [
      { field: 'amount', value: formatAmount(String(detail.amount), String(detail.currency)) },
      { field: 'payee', value: String(detail.payee) },
    ];
    if (typeof detail.reference === 'string') lines.push({ field: 'reference', value: detail.reference });
    return { type: TRANSFER_TYPE, lines };
  }
  // Only validated types are stored; anything else is shown as its JSON, never as markup.
  return { type: String(detail.type), lines: [{ field: 'details', value: JSON.stringify(detail) }] };
}
