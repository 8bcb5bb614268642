/**
 * Stable error codes of Latchkey's own flows. The HTTP edge maps each code to a status and a
 * sentence for people; tests assert on the code, never on message text.
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_email: 400,
  email_code_invalid: 400,
  email_code_expired: 400,
  email_code_attempts_exceeded: 400,
  email_not_verified: 400,
  passkey_challenge_invalid: 400,
  passkey_verification_failed: 400,
  passkey_unknown_credential: 400,
  passkey_already_registered: 409,
  passkey_user_verification_required: 400,
  passkey_wrong_account: 400,
  passkey_not_allowed: 400,
  passkey_model_compromised: 400,
  account_disabled: 403,
  csrf_failed: 403,
  rate_limited: 429,
  interaction_not_found: 400,
  payload_too_large: 413,
  not_found: 404,
  database_unavailable: 503,
  // Account page (self-service passkeys, sessions and applications).
  account_sign_in_required: 401,
  account_sign_in_failed: 400,
  reauthentication_required: 401,
  passkey_not_found: 404,
  invalid_passkey_name: 400,
  last_passkey: 409,
  session_not_found: 404,
  grant_not_found: 404,
  // Management API (/api/v1).
  invalid_token: 401,
  insufficient_scope: 403,
  invalid_cursor: 400,
  user_not_found: 404,
  user_exists: 409,
  external_id_taken: 409,
  webhook_not_found: 404,
  invalid_webhook_url: 400,
  user_disabled: 409,
  enrollment_not_found: 404,
  enrollment_not_active: 409,
  enrollment_link_invalid: 404,
  enrollment_link_used: 410,
  enrollment_link_expired: 410,
  enrollment_link_revoked: 410,
  approval_not_found: 404,
  approval_decided: 410,
  approval_expired: 410,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** An expected failure of a Latchkey flow, with a stable code; `cause` is logged, never shown. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DomainError';
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}
