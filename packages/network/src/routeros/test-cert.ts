// TEST-ONLY: a throwaway self-signed certificate for the simulator's api-ssl and HTTPS
// servers, made with the openssl CLI at test time (nothing is committed, nothing stays
// on disk). RouterOS's own certificates are self-signed too, which is why the adapters
// verify by a pinned SHA-256 fingerprint (docs/routeros.md, "TLS").
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCertificate {
  key: string;
  cert: string;
  /** SHA-256 of the certificate's DER, 64 lowercase hex digits (what tls_fingerprint holds). */
  fingerprint: string;
}

/** A P-256 key and a self-signed certificate for `commonName` with IP SANs `ips` (default 127.0.0.1), valid 2 days. */
export function makeTestCertificate(options: { commonName?: string; ips?: string[] } = {}): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), "routeros-test-cert-"));
  try {
    const keyPath = join(dir, "key.pem");
    const certPath = join(dir, "cert.pem");
    const ips = options.ips ?? ["127.0.0.1"];
    execFileSync(
      "openssl",
      [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", keyPath, "-out", certPath, "-days", "2",
        "-subj", `/CN=${options.commonName ?? "test-router"}`,
        "-addext", `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(",")}`,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    const key = readFileSync(keyPath, "utf8");
    const cert = readFileSync(certPath, "utf8");
    const fingerprint = new X509Certificate(cert).fingerprint256.replace(/:/g, "").toLowerCase();
    return { key, cert, fingerprint };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
