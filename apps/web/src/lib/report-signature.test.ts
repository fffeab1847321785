import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  canonicalJson,
  keyFingerprint,
  loadOrCreateKeyFile,
  parsePublicKey,
  parseSigningKey,
  pdfInfoKeys,
  publicKeyPem,
  signReport,
  verifyReportPdf,
  verifySignature,
} from "./report-signature";

const tmp = mkdtempSync(join(tmpdir(), "report-signature-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The information-dictionary layout pdfkit writes: indirect string objects. */
function fakePdf(data: string, signature: string): Buffer {
  const b64 = Buffer.from(data, "utf8").toString("base64");
  return Buffer.from(
    `%PDF-1.3\n%\xff\xff\n10 0 obj\n(${b64})\nendobj\n11 0 obj\n(${signature})\nendobj\n9 0 obj\n<<\n/Producer (PDFKit)\n/${pdfInfoKeys.data} 10 0 R\n/${pdfInfoKeys.signature} 11 0 R\n>>\nendobj\n%%EOF\n`,
    "latin1",
  );
}

describe("canonical JSON", () => {
  it("sorts keys at every level and drops undefined like JSON does", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { y: null, x: "é" }], c: true }, u: undefined })).toBe('{"a":{"c":true,"d":[3,{"x":"é","y":null}]},"b":1}');
    expect(canonicalJson({ b: 1, a: 2 })).toBe(canonicalJson({ a: 2, b: 1 }));
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(TypeError);
  });
});

describe("Ed25519 report signatures", () => {
  const { privateKey } = generateKeyPairSync("ed25519");
  const other = generateKeyPairSync("ed25519").privateKey;
  const report = { reference: "FIA/2026/7", records: [{ cnic: "42101-1234567-1", time: "2026-11-24T10:00:00.000Z" }] };

  it("verifies what it signed and nothing else", () => {
    const signed = signReport(report, privateKey);
    expect(Buffer.from(signed.signature, "base64")).toHaveLength(64);
    expect(signed.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(verifySignature(signed.canonical, signed.signature, parsePublicKey(publicKeyPem(privateKey)))).toBe(true);
    expect(verifySignature(signed.canonical.replace("1234567", "1234568"), signed.signature, parsePublicKey(publicKeyPem(privateKey)))).toBe(false);
    expect(verifySignature(signed.canonical, signed.signature, parsePublicKey(publicKeyPem(other)))).toBe(false);
    expect(verifySignature(signed.canonical, "AAAA", parsePublicKey(publicKeyPem(privateKey)))).toBe(false);
  });

  it("reads the key from a PEM or from the 32-byte seed, with one fingerprint", () => {
    const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const seed = privateKey.export({ format: "der", type: "pkcs8" }).subarray(-32);
    const fp = keyFingerprint(privateKey);
    expect(fp).toMatch(/^SHA256:([0-9a-f]{4} ){15}[0-9a-f]{4}$/);
    expect(keyFingerprint(parseSigningKey(pem))).toBe(fp);
    expect(keyFingerprint(parseSigningKey(seed.toString("hex")))).toBe(fp);
    expect(keyFingerprint(parseSigningKey(seed.toString("base64")))).toBe(fp);
    expect(keyFingerprint(parsePublicKey(publicKeyPem(privateKey)))).toBe(fp);
    expect(() => parseSigningKey("too-short")).toThrow(/32-byte/);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    expect(() => parseSigningKey(rsa)).toThrow(/Ed25519/);
  });

  it("verifies a PDF from the data and signature in its information dictionary", () => {
    const signed = signReport(report, privateKey);
    const pub = parsePublicKey(publicKeyPem(privateKey));
    const ok = verifyReportPdf(fakePdf(signed.canonical, signed.signature), pub);
    expect(ok).toMatchObject({ ok: true, sha256: signed.sha256, fingerprint: signed.fingerprint, data: report });

    const tampered = verifyReportPdf(fakePdf(signed.canonical.replace("FIA/2026/7", "FIA/2026/8"), signed.signature), pub);
    expect(tampered).toMatchObject({ ok: false, reason: expect.stringMatching(/signature does not match/) });
    expect(verifyReportPdf(fakePdf(signed.canonical, signed.signature), parsePublicKey(publicKeyPem(other))).ok).toBe(false);
    expect(verifyReportPdf(Buffer.from("hello"), pub)).toEqual({ ok: false, reason: "not a PDF file" });
    expect(verifyReportPdf(Buffer.from("%PDF-1.3\n%%EOF"), pub)).toEqual({ ok: false, reason: "no signed report data in this PDF" });
  });

  it("creates the key file once, private to its owner, and reuses it", () => {
    const file = join(tmp, "nested", "key.pem");
    const a = loadOrCreateKeyFile(file);
    const b = loadOrCreateKeyFile(file);
    expect(keyFingerprint(a)).toBe(keyFingerprint(b));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });
});
