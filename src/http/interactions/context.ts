import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import { clientMetadata } from '../../config/client-metadata.ts';
import { DomainError } from '../../domain/errors.ts';
import { parsePasskeyPolicy, type PasskeyPolicy } from '../../domain/passkeys/policy.ts';
import type { ClientPresenter, ClientView } from '../client-view.ts';
import type { Locale } from '../../i18n/index.ts';
import { useUiLocales } from '../locale.ts';

export type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

export type { ClientView } from '../client-view.ts';

/**
 * Loads the interaction this browser's cookie is bound to, and checks it is the one the URL
 * names: an interaction id taken from elsewhere cannot be driven with this browser's cookie.
 * Keeps it in `ctx.state.interaction` for the ceremony metrics, which would otherwise load it again.
 */
export async function loadInteraction(provider: Provider, ctx: Context): Promise<Interaction> {
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== ctx.params.uid) {
    throw new DomainError('interaction_not_found', 'This sign-in was opened in another tab or has expired. Go back to the application and start again.');
  }
  ctx.state.interaction = details;
  // The application's ui_locales choose the language of this step's page, mails and errors.
  useUiLocales(ctx, details.params.ui_locales);
  return details;
}

export async function clientView(provider: Provider, present: ClientPresenter, interaction: Interaction, locale: Locale): Promise<ClientView> {
  const clientId = String(interaction.params.client_id);
  return present(await provider.Client.find(clientId), clientId, locale);
}

/** Finishes the interaction and answers a fetch() caller with the URL to go to next. */
export async function finishAsJson(provider: Provider, ctx: Context, result: InteractionResults): Promise<void> {
  // What provider.interactionResult does, on the interaction this request already loaded
  // (loadInteraction) instead of reading it from the database a second time.
  const interaction = (ctx.state.interaction as Interaction | undefined) ?? (await loadInteraction(provider, ctx));
  interaction.result = result;
  await interaction.save(interaction.exp - Math.floor(Date.now() / 1000));
  ctx.state.interactionResult = result;
  ctx.body = { redirectTo: interaction.returnTo };
}

export function requirePrompt(interaction: Interaction, name: 'login' | 'consent'): void {
  if (interaction.prompt.name !== name) {
    throw new DomainError('interaction_not_found', 'This step is not expected now. Go back to the application and start again.');
  }
}

/** The passkey policy of the client this interaction is for (validated when the client was registered). */
export async function policyOf(provider: Provider, interaction: Interaction): Promise<PasskeyPolicy> {
  const client = await provider.Client.find(String(interaction.params.client_id));
  return parsePasskeyPolicy(clientMetadata(client).passkey_policy);
}
