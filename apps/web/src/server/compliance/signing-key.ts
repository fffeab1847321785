import "server-only";
import { createPublicKey, type KeyObject } from "node:crypto";
import { env } from "../../env";
import { defaultKeyFile, keyFingerprint, loadOrCreateKeyFile, parseSigningKey, publicKeyPem } from "../../lib/report-signature";

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPem: string;
  fingerprint: string;
  source: "env" | "file";
}

let cached: SigningKey | null = null;

/** COMPLIANCE_SIGNING_KEY, else a key kept under .data (created on first use), like AUTH_SECRET in `npm start`. */
export function signingKey(): SigningKey {
  if (cached) return cached;
  let privateKey: KeyObject;
  let source: SigningKey["source"];
  if (env.complianceSigningKey) {
    privateKey = parseSigningKey(env.complianceSigningKey);
    source = "env";
  } else {
    const file = env.complianceSigningKeyFile ?? defaultKeyFile();
    privateKey = loadOrCreateKeyFile(file);
    source = "file";
    console.warn(`[web] COMPLIANCE_SIGNING_KEY is not set: signing reports with the key in ${file}. Set it in production and publish its public key.`);
  }
  cached = { privateKey, publicKey: createPublicKey(privateKey), publicKeyPem: publicKeyPem(privateKey), fingerprint: keyFingerprint(privateKey), source };
  return cached;
}
