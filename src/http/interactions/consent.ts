import type Provider from 'oidc-provider';
import type { Interaction } from './context.ts';

/** Plain-language descriptions of what an application can get. */
const SCOPE_TEXT: Record<string, string> = {
  openid: 'Know who you are when you sign in',
  email: 'See your email address',
  profile: 'See your name',
  offline_access: 'Stay signed in when you are not using it',
};

/** What the consent page lists: scopes and claims the application asks for that are not yet granted. */
export function consentView(interaction: Interaction): { items: string[] } {
  const details = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
  const scopes = (details.missingOIDCScope ?? []).map((s) => SCOPE_TEXT[s] ?? `Use the "${s}" permission`);
  const claims = (details.missingOIDCClaims ?? []).filter((c) => !['sub', 'sid', 'auth_time', 'acr', 'amr', 'iss'].includes(c));
  if (claims.length > 0) scopes.push(`See these details: ${claims.join(', ')}`);
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
