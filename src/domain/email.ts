import { DomainError } from './errors.ts';

/**
 * Normalises an email address for use as an identity: trimmed, lower-cased. Refuses anything
 * that is not a plausible single address, so headers cannot be injected through it.
 */
export function normalizeEmail(raw: unknown): string {
  if (typeof raw !== 'string') throw new DomainError('invalid_email', 'Enter an email address.');
  const email = raw.trim().toLowerCase();
  if (email.length > 254 || !/^[^\s@<>()\[\]\\,;:"]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/.test(email)) {
    throw new DomainError('invalid_email', 'Enter a valid email address, like name@example.com.');
  }
  return email;
}
