import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { compactVerify, decodeProtectedHeader, importX509 } from 'jose';
import { chainsToTrustedRoot } from '../domain/passkeys/policy.ts';
import type { MetadataStatement } from '@simplewebauthn/server';
import { ConfigError } from './env.ts';

/** What a FIDO Metadata Service entry says about one authenticator model. */
export interface MdsModel {
  readonly aaguid: string;
  readonly name: string;
  /** A data: URI (MDS carries icons inline). */
  readonly icon?: string;
  /** The newest FIDO certification status, e.g. FIDO_CERTIFIED_L1; or a revocation such as REVOKED. */
  readonly status?: string;
  /** Every status ever reported, oldest first (compromises are enforced from these). */
  readonly statusReports: readonly string[];
  /** Attestation root certificates for this model (base64 DER). */
  readonly attestationRoots: readonly string[];
  /** The whole metadata statement, for @simplewebauthn/server's attestation checks. */
  readonly statement: MetadataStatement;
}

const AAGUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DATA_IMAGE = /^data:image\/(?:png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/]+={0,2}$/;

interface MdsEntry {
  aaguid?: unknown;
  metadataStatement?: { description?: unknown; icon?: unknown; attestationRootCertificates?: unknown };
  statusReports?: { status?: unknown; effectiveDate?: unknown }[];
}

/**
 * Reads a FIDO MDS3 BLOB (the JWT downloaded from the Metadata Service) after checking its
 * signature: the x5c chain in its header must lead to `rootPem` (FIDO's published root),
 * and the leaf must have signed the BLOB. Entries without an AAGUID (U2F keys) are skipped.
 */
export function parseMdsBlob(blob: string, rootPem: string): Promise<MdsModel[]> {
  return verifyBlob(blob.trim(), rootPem).then((payload) => {
    const entries = (payload as { entries?: unknown }).entries;
    if (!Array.isArray(entries)) throw new Error('the BLOB has no entries');
    const models: MdsModel[] = [];
    for (const entry of entries as MdsEntry[]) {
      const aaguid = typeof entry.aaguid === 'string' ? entry.aaguid.toLowerCase() : '';
      if (!AAGUID.test(aaguid)) continue;
      const statement = entry.metadataStatement ?? {};
      const name = typeof statement.description === 'string' && statement.description.trim() ? statement.description.trim().slice(0, 100) : 'Security key';
      const icon = typeof statement.icon === 'string' && statement.icon.length <= 100_000 && DATA_IMAGE.test(statement.icon) ? statement.icon : undefined;
      const reports = Array.isArray(entry.statusReports) ? entry.statusReports : [];
      const statusReports = reports
        .filter((r) => typeof r.status === 'string')
        .sort((a, b) => String(a.effectiveDate ?? '').localeCompare(String(b.effectiveDate ?? '')))
        .map((r) => String(r.status));
      const newest = statusReports.at(-1);
      const roots = Array.isArray(statement.attestationRootCertificates)
        ? statement.attestationRootCertificates.filter((c): c is string => typeof c === 'string' && /^[A-Za-z0-9+/=]+$/.test(c))
        : [];
      models.push({
        aaguid,
        name,
        ...(icon ? { icon } : {}),
        ...(newest ? { status: newest } : {}),
        statusReports,
        attestationRoots: roots,
        statement: { ...(statement as object), aaguid } as MetadataStatement,
      });
    }
    return models;
  });
}

async function verifyBlob(blob: string, rootPem: string): Promise<unknown> {
  const header = decodeProtectedHeader(blob);
  const chain = Array.isArray(header.x5c) ? header.x5c : [];
  if (chain.length === 0) throw new Error('the BLOB header has no x5c certificate chain');
  // The signing certificate must chain to FIDO's root that the operator configured.
  if (!chainsToTrustedRoot(chain, [rootPem])) throw new Error('the BLOB’s certificate chain does not lead to the configured root');
  const leaf = new X509Certificate(Buffer.from(chain[0]!, 'base64'));
  const alg = header.alg;
  if (alg !== 'RS256' && alg !== 'ES256' && alg !== 'PS256') throw new Error(`the BLOB is signed with ${String(alg)}, not RS256, PS256 or ES256`);
  const key = await importX509(leaf.toString(), alg);
  const { payload } = await compactVerify(blob, key);
  return JSON.parse(new TextDecoder().decode(payload));
}

/** Loads LATCHKEY_MDS_BLOB, verified with LATCHKEY_MDS_ROOT; failures stop the start with a clear message. */
export async function readMdsBlob(blobPath: string, rootPath: string | undefined): Promise<MdsModel[]> {
  if (!rootPath) throw new ConfigError('LATCHKEY_MDS_ROOT', 'is required with LATCHKEY_MDS_BLOB: the PEM of the FIDO Metadata Service root that signed the BLOB');
  let blob: string;
  let root: string;
  try {
    blob = readFileSync(blobPath, 'utf8');
    root = readFileSync(rootPath, 'utf8');
  } catch (error) {
    throw new ConfigError('LATCHKEY_MDS_BLOB', `cannot read the BLOB or its root: ${(error as Error).message}`);
  }
  try {
    return await parseMdsBlob(blob, root);
  } catch (error) {
    throw new ConfigError('LATCHKEY_MDS_BLOB', `${blobPath} is not a valid FIDO MDS BLOB: ${(error as Error).message}`);
  }
}
