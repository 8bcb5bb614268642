import type Provider from 'oidc-provider';
import type { AcrNames } from '../../config/env.ts';
import { levelOfRank, requiredLevel, type Requirement } from '../../domain/step-up.ts';
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
    { acrValues: interaction.params.acr_values, claims, clientMinimumAcr: client?.metadata().minimum_acr },
    names,
  );
}

/** A sentence for the step-up page: what the application asks the person to do. */
export function describeRequirement(requirement: Requirement, reasons: readonly string[]): string {
  const level = requirement !== undefined && requirement !== 'unsatisfiable' ? levelOfRank(requirement.rank) : undefined;
  if (level === 'phrh') {
    return 'It needs a passkey that stays on one device, such as a security key or your device’s built-in passkey. A passkey synced through a password manager will not do.';
  }
  if (level === 'phr') {
    return 'It needs you to use your passkey, unlocked with your fingerprint, face, PIN or screen lock.';
  }
  if (reasons.includes('max_age') || reasons.includes('login_prompt')) {
    return 'It asks you to confirm it is you again before you continue.';
  }
  return 'It asks for a stronger sign-in before you continue.';
}

/** True when the interaction re-authenticates someone already signed in (step-up). */
export function isStepUp(interaction: Interaction): boolean {
  return interaction.prompt.name === 'login' && Boolean(interaction.session?.accountId);
}
