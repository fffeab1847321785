// Interop with FreeRADIUS's radclient (Debian freeradius-utils): a real peer that
// checks our Response Authenticator and Message-Authenticator and decodes our VSAs.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PacketCode } from "./codec";
import { createRadiusServer, type RadiusServer } from "./server";
import { mikrotikRateLimit } from "./rate-limit";

const RADCLIENT = "/usr/bin/radclient";
const haveRadclient = existsSync(RADCLIENT);
if (!haveRadclient) console.warn(`radclient interop skipped: ${RADCLIENT} not found (apt-get install freeradius-utils)`);

const SECRET = "interop-secret";

function radclient(port: number, kind: "auth" | "acct" | "status", input: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(RADCLIENT, ["-x", "-r", "1", "-t", "2", `127.0.0.1:${port}`, kind, SECRET], { timeout: 10_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
    child.stdin!.end(input);
  });
}

describe.skipIf(!haveRadclient)("radclient interop", () => {
  let auth: RadiusServer;
  let acct: RadiusServer;
  let authPort = 0;
  let acctPort = 0;
  const accounting: string[] = [];

  beforeAll(async () => {
    const secretFor = (ip: string) => (ip === "127.0.0.1" ? SECRET : undefined);
    auth = createRadiusServer({
      kind: "auth",
      host: "127.0.0.1",
      port: 0,
      secretFor,
      handler: (req) => {
        if (req.getString("User-Name") === "carol" && req.authMethod === "chap" && req.verifyChap("chapchap")) {
          return { code: PacketCode.AccessAccept, attributes: [["Mikrotik-Rate-Limit", mikrotikRateLimit({ downloadKbps: 4096, uploadKbps: 1024 })]] };
        }
        return req.getString("User-Name") === "alice" && req.papPassword() === "wonderland"
          ? { code: PacketCode.AccessAccept, attributes: [["Mikrotik-Rate-Limit", mikrotikRateLimit({ downloadKbps: 10240, uploadKbps: 2048 })], ["Framed-IP-Address", "100.64.0.7"]] }
          : { code: PacketCode.AccessReject, attributes: [["Reply-Message", "wrong password"]] };
      },
    });
    acct = createRadiusServer({
      kind: "acct",
      host: "127.0.0.1",
      port: 0,
      secretFor,
      handler: (req) => {
        accounting.push(`${req.getInt("Acct-Status-Type")}:${req.getString("Acct-Session-Id")}`);
        return { code: PacketCode.AccountingResponse };
      },
    });
    authPort = await auth.start();
    acctPort = await acct.start();
  });

  afterAll(async () => {
    await auth?.stop();
    await acct?.stop();
  });

  it("PAP Access-Request gets an Access-Accept with Mikrotik-Rate-Limit", async () => {
    const r = await radclient(authPort, "auth", 'User-Name = "alice", User-Password = "wonderland", NAS-IP-Address = 127.0.0.1\n');
    expect(r.out).toMatch(/Received Access-Accept/);
    expect(r.out).toMatch(/Mikrotik-Rate-Limit = "2M\/10M"/);
    expect(r.out).toMatch(/Framed-IP-Address = 100\.64\.0\.7/);
    expect(r.code).toBe(0);
    expect(auth.counters.replied).toBe(1);
  });

  it("CHAP Access-Request is verified", async () => {
    const r = await radclient(authPort, "auth", 'User-Name = "carol", CHAP-Password = "chapchap"\n');
    expect(r.out).toMatch(/Received Access-Accept/);
    expect(r.out).toMatch(/Mikrotik-Rate-Limit = "1M\/4M"/);
  });

  it("wrong password gets an Access-Reject", async () => {
    const r = await radclient(authPort, "auth", 'User-Name = "alice", User-Password = "guess"\n');
    expect(r.out).toMatch(/Received Access-Reject/);
    expect(r.out).toMatch(/Reply-Message = "wrong password"/);
  });

  it("Accounting-Request gets an Accounting-Response", async () => {
    const r = await radclient(acctPort, "acct", 'Acct-Status-Type = Start, Acct-Session-Id = "rc-1", User-Name = "alice", Framed-IP-Address = 100.64.0.7\n');
    expect(r.out).toMatch(/Received Accounting-Response/);
    expect(r.code).toBe(0);
    expect(accounting).toEqual(["1:rc-1"]);
    expect(acct.counters.dropBadAuthenticator).toBe(0);
  });

  it("Status-Server is answered on both ports (RFC 5997)", async () => {
    const a = await radclient(authPort, "status", "Message-Authenticator = 0x00\n");
    expect(a.out).toMatch(/Received Access-Accept/);
    const b = await radclient(acctPort, "status", "Message-Authenticator = 0x00\n");
    expect(b.out).toMatch(/Received Accounting-Response/);
  });

  it("a wrong secret is dropped and counted", async () => {
    const before = auth.counters.dropBadAuthenticator;
    const child = await new Promise<string>((resolve) => {
      const c = execFile(RADCLIENT, ["-x", "-r", "1", "-t", "1", `127.0.0.1:${authPort}`, "auth", "not-the-secret"], { timeout: 10_000 }, (_e, so, se) => resolve(so + se));
      c.stdin!.end('User-Name = "alice", User-Password = "wonderland", Message-Authenticator = 0x00\n');
    });
    expect(child).not.toMatch(/Received Access-Accept/);
    expect(auth.counters.dropBadAuthenticator).toBe(before + 1);
  });
});
