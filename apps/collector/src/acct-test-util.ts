// Shared by the accounting integration tests: real Accounting-Requests over UDP.
import { createServer } from "node:net";
import { splitOctets } from "@isp/network/radius/accounting";
import type { AttributeList, AttributeValue } from "@isp/network/radius/codec";
import { PacketCode } from "@isp/network/radius/codec";
import type { RadiusClient } from "@isp/network/radius/client";

export interface AcctSpec {
  status: "Start" | "Interim-Update" | "Stop" | "Accounting-On" | "Accounting-Off";
  sessionId?: string;
  username?: string;
  sessionTimeS?: number;
  inputOctets?: bigint;
  outputOctets?: bigint;
  delayTimeS?: number;
  terminateCause?: string;
}

export function acctAttributes(spec: AcctSpec): AttributeList {
  const attrs: [string, AttributeValue][] = [["Acct-Status-Type", spec.status], ["NAS-IP-Address", "127.0.0.1"]];
  if (spec.sessionId !== undefined) attrs.push(["Acct-Session-Id", spec.sessionId]);
  if (spec.username !== undefined) attrs.push(["User-Name", spec.username]);
  if (spec.sessionTimeS !== undefined) attrs.push(["Acct-Session-Time", spec.sessionTimeS]);
  if (spec.inputOctets !== undefined) {
    const [o, g] = splitOctets(spec.inputOctets);
    attrs.push(["Acct-Input-Octets", o], ["Acct-Input-Gigawords", g]);
  }
  if (spec.outputOctets !== undefined) {
    const [o, g] = splitOctets(spec.outputOctets);
    attrs.push(["Acct-Output-Octets", o], ["Acct-Output-Gigawords", g]);
  }
  if (spec.delayTimeS !== undefined) attrs.push(["Acct-Delay-Time", spec.delayTimeS]);
  if (spec.terminateCause !== undefined) attrs.push(["Acct-Terminate-Cause", spec.terminateCause]);
  return attrs;
}

/** Sends one Accounting-Request; true when an Accounting-Response came back. */
export async function sendAcct(client: RadiusClient, port: number, secret: string, spec: AcctSpec, opts: { timeoutMs?: number; retries?: number } = {}): Promise<boolean> {
  const r = await client.request({
    host: "127.0.0.1",
    port,
    secret,
    code: PacketCode.AccountingRequest,
    attributes: acctAttributes(spec),
    timeoutMs: opts.timeoutMs ?? 1000,
    retries: opts.retries ?? 3,
    messageAuthenticator: false,
  });
  return r.response?.code === PacketCode.AccountingResponse;
}

/** The records of one session: Start, `interims` Interim-Updates, Stop; octets grow each minute. */
export function sessionRecords(sessionId: string, username: string, interims: number, bytesPerMin: bigint): AcctSpec[] {
  const out: AcctSpec[] = [{ status: "Start", sessionId, username, sessionTimeS: 0, inputOctets: 0n, outputOctets: 0n }];
  for (let i = 1; i <= interims + 1; i++) {
    out.push({
      status: i <= interims ? "Interim-Update" : "Stop",
      sessionId,
      username,
      sessionTimeS: i * 60,
      inputOctets: (bytesPerMin / 10n) * BigInt(i),
      outputOctets: bytesPerMin * BigInt(i),
      ...(i > interims ? { terminateCause: "User-Request" } : {}),
    });
  }
  return out;
}

export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
