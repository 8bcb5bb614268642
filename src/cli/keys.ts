import type { Config } from '../config/env.ts';
import type { Db } from '../storage/db.ts';
import {
  KeyRotationError,
  listKeys,
  promoteKeys,
  retireKeys,
  rotateKeys,
  SIGNING_ALGS,
  type KeyInfo,
  type KeyTarget,
  type SigningAlg,
} from '../storage/repositories/keys.ts';
import { parse, UsageError, type Output } from './output.ts';

/** How long ID tokens live (config/oidc.ts `ttl.IdToken`): a retired signing key must outlive them. */
const ID_TOKEN_TTL_SECONDS = 600;
/** How long sessions live (config/oidc.ts `ttl.Session`): cookies signed with a retired secret stop working. */
const SESSION_TTL_SECONDS = 14 * 24 * 3600;

interface Deps {
  readonly config: Config;
  readonly db: Db;
  readonly out: Output;
}

const TARGET_OPTIONS = { cookie: { type: 'boolean' }, alg: { type: 'string' } } as const;

function targetOf(values: { cookie?: boolean; alg?: string }): KeyTarget {
  if (values.cookie && values.alg) throw new UsageError('--cookie and --alg exclude each other');
  if (values.cookie) return { use: 'cookie' };
  if (values.alg === undefined) return { use: 'sig' };
  if (!SIGNING_ALGS.includes(values.alg as SigningAlg)) throw new UsageError(`--alg must be one of ${SIGNING_ALGS.join(', ')}`);
  return { use: 'sig', alg: values.alg as SigningAlg };
}

/** Keys the operator manages outside the database are rotated there, not by these commands. */
function managedHere(target: KeyTarget, config: Config): KeyTarget {
  if (target.use === 'sig' && config.externalKeys.signingKeysFile) {
    throw new KeyRotationError('managed_elsewhere', `signing keys come from LATCHKEY_SIGNING_KEYS_FILE (${config.externalKeys.signingKeysFile}): rotate them in that file`);
  }
  if (target.use === 'cookie' && config.externalKeys.cookieSecrets) {
    throw new KeyRotationError('managed_elsewhere', 'cookie secrets come from LATCHKEY_COOKIE_SECRETS: rotate them there');
  }
  return target;
}

const describe = (k: KeyInfo) => `${k.use === 'cookie' ? 'cookie' : k.alg} ${k.kid}`;
const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

/** `latchkey keys list|rotate|promote|retire`: signing-key and cookie-secret rotation. */
export async function keysCommand(args: string[], { config, db, out }: Deps): Promise<number> {
  const [sub, ...rest] = args;
  const now = Date.now();
  // Every node picks up a change within one reload interval; waiting two leaves a margin.
  const propagation = 2 * config.keyReloadInterval;
  try {
    switch (sub) {
      case 'list': {
        const { values } = parse(rest, { json: { type: 'boolean' } });
        const keys = await listKeys(db);
        if (values.json) out.print(JSON.stringify(keys, null, 2));
        else if (keys.length === 0) out.print('no keys yet: Latchkey creates them on its first start');
        else {
          out.print(['KID                                   USE     ALG    STATE     CREATED                   STOPPED SIGNING'].join('\n'));
          for (const k of keys) {
            out.print(`${k.kid.padEnd(37)} ${k.use.padEnd(7)} ${(k.alg ?? '-').padEnd(6)} ${k.state.padEnd(9)} ${iso(k.createdAt).padEnd(25)} ${iso(k.retiredAt)}`);
          }
        }
        return 0;
      }
      case 'rotate': {
        const { values } = parse(rest, TARGET_OPTIONS);
        const target = managedHere(targetOf(values), config);
        const added = await rotateKeys(db, target, now);
        for (const k of added) out.print(`added next ${describe(k)}`);
        out.print(
          `Every node publishes it within ${config.keyReloadInterval} s. Promote it with \`latchkey keys promote\` ` +
            `once relying parties have refreshed their JWKS caches (at least ${propagation} s from now).`,
        );
        return 0;
      }
      case 'promote': {
        const { values } = parse(rest, { ...TARGET_OPTIONS, force: { type: 'boolean' } });
        const target = managedHere(targetOf(values), config);
        const waiting = (await listKeys(db)).filter(
          (k) => k.state === 'next' && k.use === target.use && (target.use === 'cookie' || !target.alg || k.alg === target.alg),
        );
        const young = waiting.filter((k) => now - k.createdAt < propagation * 1000);
        // A key signs only after every node publishes (or accepts) it, or some verifications fail.
        if (young.length > 0 && !values.force) {
          out.error(
            `latchkey: ${young.map(describe).join(', ')} was added less than ${propagation} s ago; not every node may publish it yet. ` +
              'Wait, or pass --force.',
          );
          return 1;
        }
        const promoted = await promoteKeys(db, target, now);
        for (const k of promoted) out.print(`promoted ${describe(k)}: it signs from now on`);
        const grace = target.use === 'cookie' ? SESSION_TTL_SECONDS : ID_TOKEN_TTL_SECONDS + propagation;
        out.print(`The previous key still verifies. Retire it with \`latchkey keys retire\` after ${grace} s.`);
        return 0;
      }
      case 'retire': {
        const { values } = parse(rest, { ...TARGET_OPTIONS, grace: { type: 'string' } });
        const target = managedHere(targetOf(values), config);
        const fallback = target.use === 'cookie' ? SESSION_TTL_SECONDS : ID_TOKEN_TTL_SECONDS + propagation;
        if (values.grace !== undefined && !/^\d+$/.test(values.grace)) throw new UsageError('--grace must be a number of seconds');
        const grace = values.grace === undefined ? fallback : Number(values.grace);
        const { retired, waiting } = await retireKeys(db, target, now, grace);
        for (const k of retired) out.print(`retired ${describe(k)}`);
        for (const k of waiting) {
          out.print(`kept ${describe(k)}: what it signed may be valid until ${iso((k.retiredAt ?? now) + grace * 1000)}`);
        }
        if (retired.length === 0 && waiting.length === 0) out.print('nothing to retire');
        return 0;
      }
      default:
        throw new UsageError(sub ? `unknown keys command "${sub}"` : 'keys needs a command: list, rotate, promote or retire');
    }
  } catch (error) {
    if (error instanceof KeyRotationError) {
      out.error(`latchkey: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
