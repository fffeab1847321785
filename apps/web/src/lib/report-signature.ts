// Ed25519 signatures over compliance reports. Node only (node:crypto, node:fs), no
// server-only marker so the verification CLI can use it; never import it from a client
// component.
//
// What is signed is the canonical JSON of the report data (keys sorted at every level, no
// whitespace; for strings, integers, booleans and null this is RFC 8785 JCS). The PDF carries
// that JSON (base64) and the signature in its document information dictionary, so the file
// alone is enough to verify: extract, check the signature with the ISP's public key, and
// compare the signed data with what the pages show.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const reportFormat = "isp-compliance-report/1";
/** An IPv6 report: the same envelope, records are prefix holders (no NAT). */
export const ipv6ReportFormat = "isp-compliance-report-ipv6/1";

/** Names of the PDF information-dictionary entries that carry the signed report. */
export const pdfInfoKeys = {
  data: "IspReportData",
  signature: "IspReportSignature",
  fingerprint: "IspReportKeyFingerprint",
} as const;

/** A PDF larger than this is not a report of ours (5,000 rows are well under 10 MB). */
export const reportPdfBytesMax = 20 * 1024 * 1024;

export function canonicalJson(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError("canonicalJson: non-finite number");
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(",")}]`;
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
    }
    default:
      throw new TypeError(`canonicalJson: cannot encode ${typeof value}`);
  }
}

// DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows.
const pkcs8Ed25519Prefix = Buffer.from("302e020100300506032b657004220420", "hex");

/**
 * A signing key from configuration: a PKCS#8 PEM, or the 32-byte seed as 64 hex digits or
 * base64. Throws a plain message for anything else.
 */
export function parseSigningKey(text: string): KeyObject {
  const t = text.trim();
  let key: KeyObject;
  if (t.includes("-----BEGIN")) {
    key = createPrivateKey(t);
  } else {
    const seed = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, "hex") : Buffer.from(t, "base64");
    if (seed.length !== 32) throw new Error("signing key must be a PKCS#8 PEM or a 32-byte Ed25519 seed (hex or base64)");
    key = createPrivateKey({ key: Buffer.concat([pkcs8Ed25519Prefix, seed]), format: "der", type: "pkcs8" });
  }
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`signing key must be Ed25519, not ${key.asymmetricKeyType}`);
  return key;
}

/** A public key as published by the ISP: SPKI PEM (what the compliance page offers). */
export function parsePublicKey(pem: string): KeyObject {
  const key = createPublicKey(pem.trim());
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`public key must be Ed25519, not ${key.asymmetricKeyType}`);
  return key;
}

export function publicKeyPem(key: KeyObject): string {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return pub.export({ format: "pem", type: "spki" }).toString();
}

/** SHA-256 of the raw 32-byte public key, hex in groups of four: read aloud over a phone. */
export function keyFingerprint(key: KeyObject): string {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  const raw = pub.export({ format: "der", type: "spki" }).subarray(-32);
  const hex = createHash("sha256").update(raw).digest("hex");
  return `SHA256:${hex.match(/.{4}/g)!.join(" ")}`;
}

export interface SignedReport {
  canonical: string;
  /** base64 Ed25519 signature over the canonical JSON's UTF-8 bytes. */
  signature: string;
  sha256: string;
  fingerprint: string;
}

export function signReport(data: unknown, privateKey: KeyObject): SignedReport {
  const canonical = canonicalJson(data);
  const bytes = Buffer.from(canonical, "utf8");
  return {
    canonical,
    signature: sign(null, bytes, privateKey).toString("base64"),
    sha256: createHash("sha256").update(bytes).digest("hex"),
    fingerprint: keyFingerprint(privateKey),
  };
}

export function verifySignature(canonical: string, signature: string, publicKey: KeyObject): boolean {
  const sig = Buffer.from(signature, "base64");
  if (sig.length !== 64) return false;
  return verify(null, Buffer.from(canonical, "utf8"), publicKey, sig);
}

/** The information-dictionary string named `key`, as pdfkit writes it: `/Key n 0 R` -> `n 0 obj (...)`. */
function infoString(pdf: string, key: string): string | null {
  const ref = new RegExp(`/${key} (\\d+) 0 R`).exec(pdf);
  const direct = new RegExp(`/${key} \\(([A-Za-z0-9+/=: ]*)\\)`).exec(pdf);
  if (direct) return direct[1]!;
  if (!ref) return null;
  const obj = new RegExp(`(?:^|[\\r\\n])${ref[1]} 0 obj\\s*\\(([A-Za-z0-9+/=: ]*)\\)\\s*endobj`).exec(pdf);
  return obj ? obj[1]! : null;
}

export type ReportVerification =
  | { ok: true; fingerprint: string; sha256: string; data: unknown }
  | { ok: false; reason: string; fingerprint?: string; data?: unknown };

/** Checks a report PDF against the ISP's public key. Never throws on bad input. */
export function verifyReportPdf(pdf: Uint8Array, publicKey: KeyObject): ReportVerification {
  if (pdf.byteLength > reportPdfBytesMax) return { ok: false, reason: "file is larger than any report we issue" };
  const text = Buffer.from(pdf).toString("latin1");
  if (!text.startsWith("%PDF-")) return { ok: false, reason: "not a PDF file" };
  const dataB64 = infoString(text, pdfInfoKeys.data);
  const signature = infoString(text, pdfInfoKeys.signature);
  if (!dataB64 || !signature) return { ok: false, reason: "no signed report data in this PDF" };
  const canonical = Buffer.from(dataB64, "base64").toString("utf8");
  let data: unknown;
  try {
    data = JSON.parse(canonical);
  } catch {
    return { ok: false, reason: "the embedded report data is not JSON" };
  }
  const fingerprint = keyFingerprint(publicKey);
  if (!verifySignature(canonical, signature, publicKey)) {
    return { ok: false, reason: "signature does not match this key (altered report, or signed with another key)", fingerprint, data };
  }
  // Re-encoding must give the same bytes: JSON that is not canonical was not produced by us.
  if (canonicalJson(data) !== canonical) return { ok: false, reason: "the embedded report data is not canonical", fingerprint, data };
  return { ok: true, fingerprint, sha256: createHash("sha256").update(canonical, "utf8").digest("hex"), data };
}

/**
 * The signing key kept in `file` (PKCS#8 PEM, mode 0600), created on first use. Creating
 * uses O_EXCL, so two processes starting together end up with the same key.
 */
export function loadOrCreateKeyFile(file: string): KeyObject {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    const { privateKey } = generateKeyPairSync("ed25519");
    const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    try {
      writeFileSync(file, pem, { mode: 0o600, flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  return parseSigningKey(readFileSync(file, "utf8"));
}

/** The monorepo root (the package.json with workspaces) at or above `start`. */
export function repoRoot(start = process.cwd()): string {
  let dir = start;
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        if ("workspaces" in (JSON.parse(readFileSync(manifest, "utf8")) as object)) return dir;
      } catch {
        /* not ours; keep climbing */
      }
    }
    const up = dirname(dir);
    if (up === dir) return start;
    dir = up;
  }
}

/** Where the development signing key lives when COMPLIANCE_SIGNING_KEY is unset (beside .data/auth-secret). */
export function defaultKeyFile(start?: string): string {
  return join(repoRoot(start), ".data", "compliance-signing-key.pem");
}
