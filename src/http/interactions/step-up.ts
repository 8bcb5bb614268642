import type Provider from 'oidc-provider';
import { clientMetadata } from '../../config/client-metadata.ts';
import type { AcrNames } from '../../config/env.ts';
import { levelOfRank, requiredLevel, type Requirement } from '../../domain/step-up.ts';
import type { MessageKey } from '../../i18n/index.ts';
import type { Interaction } from './context.ts';

/** The level this authorization request requires (acr_values, essential acr claim, client minimum). */
export async function requirementOf(provider: Provider, interaction: Interaction, names: AcrNames): Promise<Requirement> {
  const client = await provider.Client.find(String(interaction.params.client_id));
  let claims: unknown;
  if (typeof interaction.params.claims === 'string') {
    try {
      claims = JSON.parse(interaction.params.claims);
    } catch {
      claims = undefined; // oidc-provider already refused malformed claims before any interaction
    }
  }
  return requiredLevel(
    { acrValues: interaction.params.acr_values, claims, clientMinimumAcr: clientMetadata(client).minimum_acr },
    names,
  );
}

/** The sentence for the step-up page (a catalogue key): what the application asks the person to do. */
export function describeRequirement(requirement: Requirement, reasons: readonly string[]): MessageKey {
  const level = requirement !== undefined && requirement !== 'unsatisfiable' ? levelOfRank(requirement.rank) : undefined;
  if (level === 'phrh') {
    return 'stepUp.needsDeviceBound';
  }
  if (level === 'phr') {
    return 'stepUp.needsPasskey';
  }
  if (reasons.includes('max_age') || reasons.includes('login_prompt')) {
    return 'stepUp.confirmAgain';
  }
  return 'stepUp.stronger';
}

/** True when the interaction re-authenticates someone already signed in (step-up). */
export function isStepUp(interaction: Interaction): boolean {
  return interaction.prompt.name === 'login' && Boolean(interaction.session?.accountId);
}
