// Checks a compliance report PDF offline:
//   npx tsx apps/web/src/cli/verify-report.ts <report.pdf> [--public-key <key.pub.pem>]
// With no --public-key, the ISP's own development key (.data/compliance-signing-key.pem) is
// used. Prints the verdict and the signed data; exit status 0 valid, 1 not valid, 2 usage.
import { createPublicKey } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { defaultKeyFile, keyFingerprint, parsePublicKey, parseSigningKey, verifyReportPdf } from "../lib/report-signature";

function main(): number {
  let args;
  try {
    args = parseArgs({ allowPositionals: true, options: { "public-key": { type: "string" }, json: { type: "boolean" } } });
  } catch (err) {
    console.error(String((err as Error).message));
    return 2;
  }
  const [file] = args.positionals;
  if (!file || args.positionals.length > 1) {
    console.error("usage: verify-report <report.pdf> [--public-key <key.pub.pem>] [--json]");
    return 2;
  }
  let publicKey;
  const keyPath = args.values["public-key"];
  try {
    if (keyPath) {
      publicKey = parsePublicKey(readFileSync(keyPath, "utf8"));
    } else {
      const own = defaultKeyFile();
      if (!existsSync(own)) {
        console.error(`no --public-key given and no local key at ${own}`);
        return 2;
      }
      publicKey = createPublicKey(parseSigningKey(readFileSync(own, "utf8")));
    }
  } catch (err) {
    console.error(`cannot read the key: ${(err as Error).message}`);
    return 2;
  }
  let pdf: Buffer;
  try {
    pdf = readFileSync(file);
  } catch (err) {
    console.error(`cannot read ${file}: ${(err as Error).message}`);
    return 2;
  }
  const v = verifyReportPdf(pdf, publicKey);
  if (args.values.json) {
    console.log(JSON.stringify(v, null, 2));
  } else {
    console.log(v.ok ? "VALID: signed with this key and unaltered" : `NOT VALID: ${v.reason}`);
    console.log(`key fingerprint: ${keyFingerprint(publicKey)}`);
    if (v.ok) console.log(`sha256 of signed data: ${v.sha256}`);
    if (v.data !== undefined) {
      const d = v.data as { reference?: string; generatedAt?: string; resultCount?: number; query?: unknown };
      console.log(`reference: ${d.reference ?? "?"}; generated ${d.generatedAt ?? "?"}; records ${d.resultCount ?? "?"}; query ${JSON.stringify(d.query)}`);
    }
  }
  return v.ok ? 0 : 1;
}

process.exitCode = main();
