// The seam between @isp/network (bytes, servers, CoA client) and the collector's
// services (policy). Everything protocol-shaped is adapted here.
import { parseAccountingRequest, type AcctStatus as WireAcctStatus } from "@isp/network/radius/accounting";
import { PacketCode, type AttributeValue } from "@isp/network/radius/codec";
import { CoaClient } from "@isp/network/radius/coa-client";
import { mppeKeyAttributes, verifyMsChapV1, verifyMsChapV2, type VerifyMsChapV2Result } from "@isp/network/radius/mschap";
import { mikrotikRateLimit } from "@isp/network/radius/rate-limit";
import {
  createRadiusServer,
  type DropReason as ServerDropReason,
  type DroppedRequestInfo,
  type RadiusReply,
  type RadiusRequest,
  type RadiusServerCounters,
  type RadiusServerLogEvent,
} from "@isp/network/radius/server";
import type { Logger } from "../log";
import type { DisconnectAnswer, DisconnectRequest } from "./enforcement-worker";
import type { AcctHandler, AuthHandler, AuthReply, AuthRequestView } from "./radius-types";
import type { AcctStatus } from "./session-store";

export function planRateLimit(plan: { downloadKbps: number; uploadKbps: number }): string {
  return mikrotikRateLimit({ downloadKbps: plan.downloadKbps, uploadKbps: plan.uploadKbps });
}

export interface RadiusEndpoint {
  readonly port: number;
  readonly counters: RadiusServerCounters & { invalidRecords: number };
  /** Requests dropped without an answer (malformed, unknown NAS, bad secret, overload, not stored). */
  dropped(): number;
  close(): Promise<void>;
}

interface EndpointOptions {
  host: string;
  port: number;
  secretFor: (ip: string) => string | undefined;
  log: Logger;
  /** Handlers running at once per server; beyond it the server drops (the NAS retransmits). */
  inFlightMax?: number;
}

interface AuthEndpointOptions extends EndpointOptions {
  /** Per NAS: drop Access-Requests without Message-Authenticator (BlastRADIUS). */
  requireMessageAuthenticatorFor?: (ip: string) => boolean;
  /** Authenticity drops (bad/missing Message-Authenticator, Proxy-State unsigned), for the auth log. */
  onDrop?: (reason: ServerDropReason, info: DroppedRequestInfo) => void;
}

// RFC 2548 2.4.3/2.4.4: encryption allowed (not required); 40- and 128-bit keys, as
// FreeRADIUS's mschap module offers by default and MikroTik accepts.
const MPPE_ENCRYPTION_POLICY = "Encryption-Allowed";
const MPPE_ENCRYPTION_TYPES = 0x06;

const wireStatus: Partial<Record<WireAcctStatus, AcctStatus>> = {
  Start: "start",
  Stop: "stop",
  "Interim-Update": "interim",
  "Accounting-On": "on",
  "Accounting-Off": "off",
};

/** Equal strings, comparing every UTF-16 unit whatever the first difference (no early exit, no Buffers). */
function equalText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function serverLog(log: Logger) {
  return (e: RadiusServerLogEvent) => {
    const extra = { reason: e.reason, nas: `${e.nasIp}:${e.srcPort}`, ...(e.suppressed ? { suppressed: e.suppressed } : {}) };
    if (e.level === "error") log.error(e.message, extra);
    else log.warn(e.message, extra);
  };
}

function dropTotal(c: RadiusServerCounters & { invalidRecords: number }): number {
  return (
    c.dropMalformed +
    c.dropUnknownNas +
    c.dropBadAuthenticator +
    c.dropMissingMessageAuthenticator +
    c.dropProxyStateWithoutMessageAuthenticator +
    c.dropUnexpectedCode +
    c.dropOverload +
    c.dropByHandler +
    c.handlerErrors +
    c.encodeErrors
  );
}

/** RFC 2759 6 failure text: E=error R=retry C=new challenge V=version M=message. */
function msChapError(ident: number, challenge: Buffer | undefined, disabled: boolean): Buffer {
  const code = disabled ? 647 : 691;
  const c = (challenge ?? Buffer.alloc(16)).toString("hex").toUpperCase();
  const text = `E=${code} R=${disabled ? 0 : 1} C=${c} V=3 M=${disabled ? "Account disabled" : "Authentication failed"}`;
  return Buffer.concat([Buffer.from([ident]), Buffer.from(text, "ascii")]);
}

interface AuthWireContext {
  req: RadiusRequest;
  /** Set by the MS-CHAPv2 check when it succeeds. */
  msChap: Extract<VerifyMsChapV2Result, { ok: true }> | null;
  msResponse: Buffer | undefined;
  msChallenge: Buffer | undefined;
  msV1Response: Buffer | undefined;
}

function checkMsChapV2(ctx: AuthWireContext, userName: string, clear: string): boolean {
  const r = verifyMsChapV2({ username: userName, password: clear, authenticatorChallenge: ctx.msChallenge!, response: ctx.msResponse! });
  ctx.msChap = r.ok ? r : null;
  return r.ok;
}

function checkMsChapV1(ctx: AuthWireContext, clear: string): boolean {
  return verifyMsChapV1({ password: clear, challenge: ctx.msChallenge!, response: ctx.msV1Response! });
}

function authReplyToWire(ctx: AuthWireContext, reply: AuthReply): RadiusReply {
  const { req, msResponse, msChallenge, msV1Response } = ctx;
  const attributes: Array<readonly [string, AttributeValue]> = [];
  for (const a of reply.attributes) attributes.push([a.name, a.value]);
  let code: number = reply.code === "accept" ? PacketCode.AccessAccept : PacketCode.AccessReject;
  if (req.authMethod === "mschapv2") {
    const ok = ctx.msChap;
    if (code === PacketCode.AccessAccept && ok) {
      // The peer authenticates us with MS-CHAP2-Success; MPPE keys are hidden with our
      // secret and this request's authenticator (RFC 2548 2.4.2).
      attributes.push(
        ["MS-CHAP2-Success", ok.successAttribute],
        ...mppeKeyAttributes({ secret: req.secret, requestAuthenticator: req.packet.authenticator, passwordHashHash: ok.passwordHashHash, ntResponse: ok.ntResponse }),
        ["MS-MPPE-Encryption-Policy", MPPE_ENCRYPTION_POLICY],
        ["MS-MPPE-Encryption-Types", MPPE_ENCRYPTION_TYPES],
      );
    } else {
      // An MS-CHAPv2 Accept without MS-CHAP2-Success would fail at the client anyway.
      code = PacketCode.AccessReject;
      attributes.push(["MS-CHAP-Error", msChapError(msResponse?.[0] ?? 0, msChallenge, reply.accountDisabled === true)]);
    }
  }
  if (req.authMethod === "mschapv1" && code === PacketCode.AccessReject) {
    // MS-CHAPv1 is authentication only: no MS-CHAP-MPPE-Keys on Accept (docs/radius-auth.md).
    attributes.push(["MS-CHAP-Error", Buffer.concat([Buffer.from([msV1Response?.[0] ?? 0]), Buffer.from(`E=${reply.accountDisabled ? 647 : 691} R=0`, "ascii")])]);
  }
  return { code, attributes };
}

export async function createAuthEndpoint(opts: AuthEndpointOptions, handler: AuthHandler): Promise<RadiusEndpoint> {
  const server = createRadiusServer({
    kind: "auth",
    host: opts.host,
    port: opts.port,
    secretFor: opts.secretFor,
    log: serverLog(opts.log),
    inFlightMax: opts.inFlightMax,
    ...(opts.requireMessageAuthenticatorFor ? { requireMessageAuthenticatorFor: opts.requireMessageAuthenticatorFor } : {}),
    ...(opts.onDrop ? { onDrop: opts.onDrop } : {}),
    handler: (req) => {
      const userName = req.getString("User-Name") ?? null;
      const ctx: AuthWireContext = {
        req,
        msChap: null,
        msResponse: req.getBuffer("MS-CHAP2-Response"),
        msChallenge: req.getBuffer("MS-CHAP-Challenge"),
        msV1Response: req.authMethod === "mschapv1" ? req.getBuffer("MS-CHAP-Response") : undefined,
      };
      // Bound module functions rather than closures: the hot path creates no new function
      // literals (tsx's keep-names wrapper gives every fresh closure its own hidden class).
      let credentialMatches: AuthRequestView["credentialMatches"] = null;
      if (req.authMethod === "pap") {
        const offered = req.papPassword();
        if (offered !== undefined) credentialMatches = equalText.bind(null, offered);
      } else if (req.authMethod === "chap") {
        credentialMatches = req.verifyChap.bind(req);
      } else if (req.authMethod === "mschapv2" && ctx.msResponse && ctx.msChallenge && userName !== null) {
        credentialMatches = checkMsChapV2.bind(null, ctx, userName);
      } else if (ctx.msV1Response && ctx.msChallenge) {
        credentialMatches = checkMsChapV1.bind(null, ctx);
      }
      const answer = handler({
        sourceIp: req.nasIp,
        userName,
        method: req.authMethod,
        credentialMatches,
        callingStationId: req.getString("Calling-Station-Id") ?? null,
      });
      // The common Accept (caches only) comes back as a value: answered without a promise.
      return answer instanceof Promise ? answer.then((reply) => authReplyToWire(ctx, reply)) : authReplyToWire(ctx, answer);
    },
  });
  return endpoint(server, await server.start(), { invalidRecords: 0 });
}

export async function createAcctEndpoint(opts: EndpointOptions, handler: AcctHandler): Promise<RadiusEndpoint> {
  const extra = { invalidRecords: 0 };
  const server = createRadiusServer({
    kind: "acct",
    host: opts.host,
    port: opts.port,
    secretFor: opts.secretFor,
    log: serverLog(opts.log),
    inFlightMax: opts.inFlightMax,
    handler: async (req) => {
      const r = parseAccountingRequest(req.packet);
      const status = wireStatus[r.statusType];
      const sessionBound = status === "start" || status === "stop" || status === "interim";
      if (!status || (sessionBound && (!r.acctSessionId || r.userName === undefined))) {
        // Nothing we can store; no answer, so a broken NAS config is visible as drops.
        extra.invalidRecords++;
        opts.log.warn(`accounting record without status/session id from ${req.nasIp}; dropped`, { status: r.statusType });
        return null;
      }
      const outcome = await handler({
        sourceIp: req.nasIp,
        record: {
          status,
          acctSessionId: r.acctSessionId ?? "",
          username: r.userName ?? "",
          sessionTimeS: r.sessionTime ?? 0,
          inputOctets: r.inputOctets,
          outputOctets: r.outputOctets,
          framedIp: r.framedIp ?? null,
          delegatedPrefix: r.delegatedIpv6Prefix ?? null,
          callingStationId: r.callingStationId ?? null,
          nasPortId: r.nasPortId ?? null,
          terminateCause: r.terminateCause ?? null,
          delayTimeS: r.delayTime,
        },
      });
      return outcome === "ack" ? { code: PacketCode.AccountingResponse } : null;
    },
  });
  return endpoint(server, await server.start(), extra);
}

function endpoint(
  server: ReturnType<typeof createRadiusServer>,
  boundPort: number,
  extra: { invalidRecords: number },
): RadiusEndpoint {
  const counters = Object.assign(server.counters, extra);
  return {
    port: boundPort,
    counters,
    dropped: () => dropTotal(Object.assign(server.counters, extra)),
    close: () => server.stop(),
  };
}

export interface DisconnectSenderHandle {
  send: (req: DisconnectRequest) => Promise<DisconnectAnswer>;
  close(): Promise<void>;
}

/**
 * One CoaClient (one socket) for every Disconnect: per-router identifiers bounded by
 * inFlightMax, extra requests wait in the client's queue (bounded by the worker's own
 * inFlightMax anyway).
 */
export function createDisconnectSender(opts: { timeoutMs?: number; retries?: number; inFlightMax?: number; log: Logger }): DisconnectSenderHandle {
  const client = new CoaClient({ inFlightPerDestinationMax: Math.min(256, opts.inFlightMax ?? 64), queueMax: 4096 });
  return {
    async send(req) {
      const attributes: [string, string][] = [["User-Name", req.userName]];
      if (req.acctSessionId) attributes.push(["Acct-Session-Id", req.acctSessionId]);
      if (req.framedIp) attributes.push(["Framed-IP-Address", req.framedIp]);
      if (req.nasIpAddress) attributes.push(["NAS-IP-Address", req.nasIpAddress]);
      if (req.attributes) attributes.push(...req.attributes);
      const r = await client[req.code === "coa" ? "coa" : "disconnect"]({
        host: req.host,
        port: req.port,
        secret: req.secret,
        attributes,
        timeoutMs: opts.timeoutMs ?? 2000,
        retries: opts.retries ?? 2,
      });
      return { outcome: r.outcome, errorCause: r.errorCause ?? null, latencyMs: Math.round(r.latencyMs) };
    },
    close: () => client.close(),
  };
}
