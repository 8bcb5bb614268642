import type { AcrNames } from '../config/env.ts';

/**
 * Levels weakest first: an emailed code < a passkey without user verification (possession only)
 * < a user-verified passkey (phr) < a user-verified device-bound passkey (phrh).
 * A rank is the index; -1 means none or unknown.
 */
const ORDER = ['otp', 'pop', 'phr', 'phrh'] as const;
export type Level = (typeof ORDER)[number];

/** How long, in seconds, each level keeps counting after its ceremony (0 = for the session's life). */
export type LevelMaxAges = Readonly<Record<Level, number>>;

export function acrRank(acr: unknown, names: AcrNames): number {
  return ORDER.findIndex((level) => names[level] === acr);
}

/** The level name of a rank (undefined for -1). */
export function levelOfRank(rank: number): Level | undefined {
  return ORDER[rank];
}

export function rankOfLevel(level: Level): number {
  return ORDER.indexOf(level);
}

/** What a request asks for, in the forms a relying party can use. */
export interface StepUpRequest {
  /** `acr_values`: space-separated, ordered by preference. */
  readonly acrValues?: unknown;
  /** The parsed `claims` parameter. */
  readonly claims?: unknown;
  /** The client's `minimum_acr` metadata. */
  readonly clientMinimumAcr?: unknown;
}

/** The weakest level a request accepts; `unsatisfiable` when it names only values Latchkey never issues. */
export type Requirement = { readonly rank: number } | 'unsatisfiable' | undefined;

function weakestKnown(values: readonly unknown[], names: AcrNames): Requirement {
  const ranks = values.map((v) => acrRank(v, names)).filter((r) => r >= 0);
  if (values.length === 0) return undefined;
  return ranks.length === 0 ? 'unsatisfiable' : { rank: Math.min(...ranks) };
}

function strictest(a: Requirement, b: Requirement): Requirement {
  if (a === 'unsatisfiable' || b === 'unsatisfiable') return 'unsatisfiable';
  if (!a) return b;
  if (!b) return a;
  return { rank: Math.max(a.rank, b.rank) };
}

/**
 * The level a request requires. `acr_values` is treated as a requirement (any listed level or
 * a stronger one satisfies it), as is an essential `acr` claim (`value` or `values`) and the
 * client's minimum; when several apply, the strictest wins. A voluntary acr claim asks nothing.
 */
export function requiredLevel(request: StepUpRequest, names: AcrNames): Requirement {
  let requirement: Requirement;
  if (typeof request.acrValues === 'string' && request.acrValues.trim() !== '') {
    requirement = weakestKnown(request.acrValues.trim().split(/\s+/), names);
  }
  const acrClaim = (request.claims as { id_token?: { acr?: { essential?: unknown; value?: unknown; values?: unknown } } } | undefined)?.id_token?.acr;
  if (acrClaim?.essential === true) {
    const values = Array.isArray(acrClaim.values) ? acrClaim.values : acrClaim.value !== undefined ? [acrClaim.value] : [];
    requirement = strictest(requirement, weakestKnown(values, names));
  }
  if (request.clientMinimumAcr !== undefined) {
    requirement = strictest(requirement, weakestKnown([request.clientMinimumAcr], names));
  }
  return requirement;
}

/**
 * The level a session still holds now. Elevation decays: a level counts only while its
 * ceremony is younger than that level's maximum age; then the session falls to the strongest
 * lower level still within its own age (every ceremony also proves the levels below it).
 */
export function effectiveRank(
  session: { readonly acr?: unknown; readonly authTime?: number },
  nowSeconds: number,
  names: AcrNames,
  maxAges: LevelMaxAges,
): number {
  const reached = acrRank(session.acr, names);
  if (reached < 0 || session.authTime === undefined) return -1;
  const age = nowSeconds - session.authTime;
  for (let rank = reached; rank >= 0; rank--) {
    const maxAge = maxAges[ORDER[rank]!];
    if (maxAge === 0 || age <= maxAge) return rank;
  }
  return -1;
}

/** True when a session at `rank` meets the requirement. */
export function meets(rank: number, requirement: Requirement): boolean {
  if (requirement === undefined) return true;
  if (requirement === 'unsatisfiable') return false;
  return rank >= requirement.rank;
}
