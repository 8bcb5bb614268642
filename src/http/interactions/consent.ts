import type Provider from 'oidc-provider';
import { translate, type Locale, type MessageKey } from '../../i18n/index.ts';
import type { Interaction } from './context.ts';

/** A plain-language description of what a scope lets an application do. */
export function describeScope(locale: Locale, scope: string): string {
  const key = `scope.${scope}`;
  return ['openid', 'email', 'profile', 'offline_access'].includes(scope) ? translate(locale, key as MessageKey) : translate(locale, 'scope.other', { scope });
}

/** What the consent page lists: scopes and claims the application asks for that are not yet granted. */
export function consentView(interaction: Interaction, locale: Locale): { items: string[] } {
  const details = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
  const scopes = (details.missingOIDCScope ?? []).map((s) => describeScope(locale, s));
  const claims = (details.missingOIDCClaims ?? []).filter((c) => !['sub', 'sid', 'auth_time', 'acr', 'amr', 'iss'].includes(c));
  if (claims.length > 0) scopes.push(translate(locale, 'scope.claims', { claims: claims.join(', ') }));
  return { items: [...new Set(scopes)] };
}

/** Records the person's consent to everything the request is missing; returns the grant id. */
export async function grantConsent(provider: Provider, interaction: Interaction): Promise<string> {
  const { prompt, params, session, grantId: existingGrantId } = interaction;
  const grant = existingGrantId
    ? await provider.Grant.find(existingGrantId)
    : new provider.Grant({ accountId: session!.accountId, clientId: String(params.client_id) });
  if (!grant) throw new Error('grant of the interaction disappeared');
  const details = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}
