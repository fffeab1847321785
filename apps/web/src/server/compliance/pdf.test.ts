// A real pdfkit report, checked by the same code the verify procedure and the CLI use.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { publicKeyPem, reportFormat, signReport, verifyReportPdf } from "../../lib/report-signature";
import type { ReportData } from "../services/compliance";
import type { NatRecord } from "./dto";
import { renderReportPdf } from "./pdf";

const tmp = mkdtempSync(join(tmpdir(), "report-pdf-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function record(i: number): NatRecord {
  return {
    time: new Date(Date.UTC(2026, 10, 24, 10, 0, i)).toISOString(),
    event: "open",
    routerName: "KHI-BNG-01",
    protocol: "tcp",
    privateIp: "10.0.10.76",
    privatePort: 61000 + i,
    publicIp: "203.0.113.10",
    publicPort: 61000 + i,
    destIp: "40.127.110.237",
    destPort: 443,
    pppoeUser: "ahmed.khan",
    srcMac: "4c:5e:0c:12:34:56",
    acctSessionId: "81a00001",
    resolvedBy: "ingest",
    subscriber: { id: 1, accountNo: "ACC-100001", name: "Ahmed Khan", cnic: "42101-1234567-1", phone: "0300-1234567", address: "House 12, Block B, Gulshan", city: "Karachi" },
    session: {
      id: "7",
      subscriberId: 1,
      username: "ahmed.khan",
      routerName: "KHI-BNG-01",
      framedIp: "10.0.10.76",
      mac: "4C:5E:0C:12:34:56",
      loginAt: "2026-11-24T09:00:00.000Z",
      logoffAt: i % 2 ? null : "2026-11-24T11:00:00.000Z",
      terminateCause: null,
      acctSessionId: "81a00001",
    },
  };
}

const data: ReportData = {
  format: reportFormat,
  isp: "Demo ISP (Pvt) Ltd",
  reference: "FIA/CCW/2026/1234",
  generatedAt: "2026-11-24T12:00:00.000Z",
  operator: { username: "compliance", name: "Ayesha Rauf" },
  query: { publicIp: "203.0.113.10", publicPort: null, from: "2026-11-24T09:55:00.000Z", to: "2026-11-24T10:05:00.000Z" },
  resultCount: 80,
  truncated: false,
  records: Array.from({ length: 80 }, (_, i) => record(i)),
};

describe("report PDF", () => {
  const { privateKey } = generateKeyPairSync("ed25519");
  const pubPem = publicKeyPem(privateKey);

  it("is a multi-page PDF whose embedded data verifies, and a changed byte of data does not", async () => {
    const signed = signReport(data, privateKey);
    const pdf = await renderReportPdf(data, signed);
    const text = pdf.toString("latin1");
    expect(text.startsWith("%PDF-")).toBe(true);
    expect((text.match(/\/Type \/Page\b/g) ?? []).length).toBeGreaterThan(2);
    const v = verifyReportPdf(pdf, generateKeyPairSync("ed25519").publicKey);
    expect(v.ok).toBe(false);
    const ok = verifyReportPdf(pdf, privateKey);
    expect(ok).toMatchObject({ ok: true, sha256: signed.sha256, data });

    // Re-sign other data but keep the old signature: what a forger without the key can do.
    const forged = signReport({ ...data, reference: "FIA/CCW/2026/9999" }, privateKey);
    const swapped = await renderReportPdf({ ...data, reference: "FIA/CCW/2026/9999" }, { ...forged, signature: signed.signature });
    expect(verifyReportPdf(swapped, privateKey)).toMatchObject({ ok: false });
  });

  it("verifies with the CLI given the published public key", async () => {
    const signed = signReport(data, privateKey);
    const file = join(tmp, "report.pdf");
    const keyFile = join(tmp, "key.pub.pem");
    writeFileSync(file, await renderReportPdf(data, signed));
    writeFileSync(keyFile, pubPem);
    const cli = join(import.meta.dirname, "../../cli/verify-report.ts");
    const out = execFileSync(process.execPath, ["--import", "tsx", cli, file, "--public-key", keyFile], { encoding: "utf8" });
    expect(out).toMatch(/^VALID/);
    expect(out).toContain(signed.sha256);
    expect(out).toContain("FIA/CCW/2026/1234");
    const other = join(tmp, "other.pub.pem");
    writeFileSync(other, publicKeyPem(generateKeyPairSync("ed25519").privateKey));
    let status = 0;
    try {
      execFileSync(process.execPath, ["--import", "tsx", cli, file, "--public-key", other], { encoding: "utf8" });
    } catch (err) {
      status = (err as { status: number }).status;
    }
    expect(status).toBe(1);
  });
});
