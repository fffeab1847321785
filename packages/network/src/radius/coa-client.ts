// RFC 5176 Dynamic Authorization client: Disconnect-Request and CoA-Request towards a
// NAS (UDP 3799). A CoaClient keeps one socket and up to 256 outstanding identifiers per
// router, so thousands of enforcement actions share one socket instead of opening one each.
import { getInt, PacketCode, type AttributeList, type RadiusPacket } from "./codec";
import { enumName } from "./dictionary";
import { RadiusClient, type RadiusClientOptions, type RadiusClientStats } from "./client";

export type CoaOutcome = "ack" | "nak" | "timeout";

export interface CoaResult {
  outcome: CoaOutcome;
  /** Error-Cause of a NAK (e.g. 503 Session-Context-Not-Found). */
  errorCause?: number;
  errorCauseName?: string;
  latencyMs: number;
  attempts: number;
  response?: RadiusPacket;
}

export interface CoaRequestOptions {
  /** The NAS address (an IP). */
  host: string;
  /** Usually 3799 (MikroTik's default is 3799 too). */
  port: number;
  secret: string;
  /** Session identification and changes by name: User-Name, Acct-Session-Id, Framed-IP-Address, NAS-IP-Address, Mikrotik-Rate-Limit ... */
  attributes: AttributeList;
  /** Per attempt. Default 2000. */
  timeoutMs?: number;
  /** Retransmissions after the first attempt. Default 2. */
  retries?: number;
}

export type CoaClientOptions = RadiusClientOptions;

export class CoaClient {
  private readonly client: RadiusClient;

  constructor(options: CoaClientOptions = {}) {
    this.client = new RadiusClient(options);
  }

  get stats(): RadiusClientStats {
    return this.client.stats;
  }

  open(): Promise<{ address: string; port: number }> {
    return this.client.open();
  }

  disconnect(options: CoaRequestOptions): Promise<CoaResult> {
    return this.send(PacketCode.DisconnectRequest, PacketCode.DisconnectAck, PacketCode.DisconnectNak, options);
  }

  coa(options: CoaRequestOptions): Promise<CoaResult> {
    return this.send(PacketCode.CoaRequest, PacketCode.CoaAck, PacketCode.CoaNak, options);
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private async send(code: number, ackCode: number, nakCode: number, options: CoaRequestOptions): Promise<CoaResult> {
    // RFC 5176 3.4: Event-Timestamp lets the NAS reject replayed requests.
    const attributes: AttributeList = options.attributes.some(([n]) => n === "Event-Timestamp")
      ? options.attributes
      : [...options.attributes, ["Event-Timestamp", new Date()]];
    const r = await this.client.request({
      host: options.host,
      port: options.port,
      secret: options.secret,
      code,
      attributes,
      timeoutMs: options.timeoutMs ?? 2000,
      retries: options.retries ?? 2,
    });
    const base = { latencyMs: r.latencyMs, attempts: r.attempts };
    if (!r.response) return { outcome: "timeout", ...base };
    const errorCause = getInt(r.response, "Error-Cause");
    const cause = errorCause === undefined ? {} : { errorCause, errorCauseName: enumName("Error-Cause", errorCause) ?? `Unknown-${errorCause}` };
    if (r.response.code === ackCode) return { outcome: "ack", ...cause, ...base, response: r.response };
    if (r.response.code === nakCode) return { outcome: "nak", ...cause, ...base, response: r.response };
    // An authenticated answer of the wrong kind: the NAS did not confirm, so it counts as a NAK.
    return { outcome: "nak", ...cause, ...base, response: r.response };
  }
}

export interface OneShotCoaOptions extends CoaRequestOptions {
  localAddress?: string;
}

/** One request on a temporary socket; prefer a long-lived CoaClient for bulk actions. */
export async function sendDisconnectRequest(options: OneShotCoaOptions): Promise<CoaResult> {
  const client = new CoaClient(options.localAddress ? { localAddress: options.localAddress } : {});
  try {
    return await client.disconnect(options);
  } finally {
    await client.close();
  }
}

export async function sendCoaRequest(options: OneShotCoaOptions): Promise<CoaResult> {
  const client = new CoaClient(options.localAddress ? { localAddress: options.localAddress } : {});
  try {
    return await client.coa(options);
  } finally {
    await client.close();
  }
}
