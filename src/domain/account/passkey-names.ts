import { DomainError } from '../errors.ts';

/** The longest name a person can give a passkey, in characters (code points). */
export const PASSKEY_NAME_MAX = 64;

// Control characters, and the bidirectional overrides that could make one name look like another.
const INVISIBLE = /[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/**
 * A passkey name as the person typed it, made safe to store and show: control and bidi
 * characters removed, whitespace collapsed, 1 to 64 characters. (Escaping is the templates'
 * job; this only keeps names readable.)
 */
export function normalizePasskeyName(raw: unknown): string {
  if (typeof raw !== 'string') throw new DomainError('invalid_passkey_name', 'Enter a name for the passkey.');
  const name = raw.replace(INVISIBLE, ' ').replace(/\s+/g, ' ').trim();
  if (name === '') throw new DomainError('invalid_passkey_name', 'Enter a name for the passkey.');
  if ([...name].length > PASSKEY_NAME_MAX) {
    throw new DomainError('invalid_passkey_name', `A passkey name can be at most ${PASSKEY_NAME_MAX} characters long.`);
  }
  return name;
}
