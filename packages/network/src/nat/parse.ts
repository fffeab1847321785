// NAT log parsing: answers "who had public IP X, port Y, at time T" from routers' syslog.
// Pure: strings and buffers in, data out. The collector owns sockets, clocks and storage.
//
// Two layers:
//   - syslog framing: parseSyslog (RFC 3164 / RFC 5424 headers), splitOctetCounted (RFC 6587 TCP framing);
//   - NAT payloads: parseNatLine(message) for MikroTik srcnat firewall logs, Juniper SRX
//     RT_FLOW_SESSION_CREATE/CLOSE and Cisco IOS / IOS-XE NAT translation logs.
// parseNatLine never throws: a line it cannot use comes back with a reason for the quarantine table.

// ---------------------------------------------------------------------------------------------
// Syslog framing

export type SyslogErrorReason = "too_long" | "missing_pri" | "bad_pri" | "bad_header" | "bad_timestamp";

export class SyslogParseError extends Error {
  constructor(
    readonly reason: SyslogErrorReason,
    message: string,
  ) {
    super(message);
    this.name = "SyslogParseError";
  }
}

export interface SyslogMessage {
  format: "rfc3164" | "rfc5424";
  /** "header" when the sender's timestamp was usable, "received" when receivedAt stands in. */
  timeSource: "header" | "received";
  time: Date;
  host: string | null;
  facility: number;
  severity: number;
  /** RFC 5424 APP-NAME; null for RFC 3164 (its TAG stays in message, where MikroTik puts topics). */
  appName: string | null;
  /** RFC 5424 STRUCTURED-DATA exactly as sent (e.g. Juniper's sd-syslog), or null. */
  structuredData: string | null;
  message: string;
}

export interface ParseSyslogOptions {
  /**
   * RFC 3164 timestamps carry no zone; routers log local wall time. Pakistan (PKT, UTC+5)
   * has had no daylight saving since 2009, so a fixed offset is exact there.
   */
  rfc3164UtcOffsetMinutes?: number;
  /** Longer lines are refused rather than parsed (RFC 5424 §6.1 lets receivers set a limit). */
  lineCharsMax?: number;
}

export const syslogLineCharsMaxDefault = 8192;
const pktUtcOffsetMinutes = 300;

const monthIndex: Record<string, number> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};

const priRe = /^<(\d{1,3})>/;
const rfc5424Re = /^1 (\S+) (\S+) (\S+) (\S+) (\S+) ?([\s\S]*)$/;
const rfc5424TimeRe = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(Z|[+-]\d\d:\d\d)$/;
// Day is space-padded ("Nov  4"); some senders add milliseconds, which RFC 3164 does not.
const rfc3164Re = /^([A-Z][a-z]{2}) ([ \d]?\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))? (\S+)(?: ([\s\S]*))?$/;

/** Milliseconds since the epoch for a wall-clock time at a UTC offset; NaN when a field is out of range. */
function wallClockMs(year: number, month0: number, day: number, hour: number, minute: number, second: number, ms: number, offsetMinutes: number): number {
  if (month0 < 0 || month0 > 11 || day < 1 || hour > 23 || minute > 59 || second > 59) return NaN;
  const t = Date.UTC(year, month0, day, hour, minute, second, ms);
  // Date.UTC rolls Feb 30 over to Mar 2; a rolled date is a wrong date.
  if (new Date(t).getUTCDate() !== day) return NaN;
  return t - offsetMinutes * 60_000;
}

function fractionMs(frac: string | undefined): number {
  return frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, "0"));
}

function nil(value: string): string | null {
  return value === "-" ? null : value;
}

/** Returns the STRUCTURED-DATA length at the start of text (RFC 5424 §6.3), or -1 if it is not well formed. */
function structuredDataLength(text: string): number {
  if (text.startsWith("-")) return 1;
  let i = 0;
  while (i < text.length && text.charCodeAt(i) === 0x5b /* [ */) {
    let quoted = false;
    i++;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (quoted) {
        if (c === 0x5c /* \ */) i++;
        else if (c === 0x22 /* " */) quoted = false;
      } else if (c === 0x22) quoted = true;
      else if (c === 0x5d /* ] */) break;
    }
    if (i >= text.length) return -1;
    i++;
  }
  return i === 0 ? -1 : i;
}

export function parseSyslog(line: string, receivedAt: Date, options: ParseSyslogOptions = {}): SyslogMessage {
  const lineCharsMax = options.lineCharsMax ?? syslogLineCharsMaxDefault;
  if (line.length > lineCharsMax) throw new SyslogParseError("too_long", `syslog line of ${line.length} chars exceeds ${lineCharsMax}`);
  // UDP senders often end datagrams with LF (or CRLF); it is framing, not message.
  const text = line.replace(/\r?\n$/, "");
  const pri = priRe.exec(text);
  if (!pri) throw new SyslogParseError("missing_pri", "syslog line does not start with <PRI>");
  const priText = pri[1]!;
  const priValue = Number(priText);
  if (priValue > 191 || (priText.length > 1 && priText.startsWith("0"))) throw new SyslogParseError("bad_pri", `PRI <${priText}> is not 0..191`);
  const facility = priValue >> 3;
  const severity = priValue & 7;
  const rest = text.slice(pri[0].length);

  if (rest.startsWith("1 ")) {
    const m = rfc5424Re.exec(rest);
    if (!m) throw new SyslogParseError("bad_header", "RFC 5424 header is incomplete");
    const stamp = m[1]!;
    let time = receivedAt;
    let timeSource: SyslogMessage["timeSource"] = "received";
    if (stamp !== "-") {
      const t = rfc5424TimeRe.exec(stamp);
      if (!t) throw new SyslogParseError("bad_timestamp", `RFC 5424 timestamp ${JSON.stringify(stamp)} is not RFC 3339`);
      const zone = t[8]!;
      const offset = zone === "Z" ? 0 : (zone.startsWith("-") ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
      const ms = wallClockMs(Number(t[1]), Number(t[2]) - 1, Number(t[3]), Number(t[4]), Number(t[5]), Number(t[6]), fractionMs(t[7]), offset);
      if (Number.isNaN(ms)) throw new SyslogParseError("bad_timestamp", `RFC 5424 timestamp ${stamp} is out of range`);
      time = new Date(ms);
      timeSource = "header";
    }
    const sdAndMsg = m[6]!;
    const sdLength = structuredDataLength(sdAndMsg);
    if (sdLength < 0) throw new SyslogParseError("bad_header", "RFC 5424 STRUCTURED-DATA is not well formed");
    const sd = sdAndMsg.slice(0, sdLength);
    let message = sdAndMsg.slice(sdLength);
    if (message.startsWith(" ")) message = message.slice(1);
    if (message.startsWith("\uFEFF")) message = message.slice(1);
    return { format: "rfc5424", timeSource, time, host: nil(m[2]!), facility, severity, appName: nil(m[3]!), structuredData: sd === "-" ? null : sd, message };
  }

  const m = rfc3164Re.exec(rest);
  const month0 = m ? monthIndex[m[1]!] : undefined;
  if (!m || month0 === undefined) {
    // RFC 3164 §4.3.3: without a valid TIMESTAMP the receiver uses its own time and the whole
    // remainder is MSG. Cisco IOS ("<189>45: *Nov 24 ...: %NAT-...") lands here.
    return { format: "rfc3164", timeSource: "received", time: receivedAt, host: null, facility, severity, appName: null, structuredData: null, message: rest };
  }
  const offset = options.rfc3164UtcOffsetMinutes ?? pktUtcOffsetMinutes;
  const day = Number(m[2]!.trim());
  const hour = Number(m[3]);
  const minute = Number(m[4]);
  const second = Number(m[5]);
  const ms = fractionMs(m[6]);
  // The year is not sent: take the one putting the stamp nearest to receipt, so a line stamped
  // "Dec 31 23:59:59" that arrives just after New Year stays in the old year (and vice versa
  // for a router clock slightly ahead).
  const localYear = new Date(receivedAt.getTime() + offset * 60_000).getUTCFullYear();
  let best = NaN;
  for (let year = localYear - 1; year <= localYear + 1; year++) {
    const t = wallClockMs(year, month0, day, hour, minute, second, ms, offset);
    if (Number.isNaN(t)) continue;
    if (Number.isNaN(best) || Math.abs(t - receivedAt.getTime()) < Math.abs(best - receivedAt.getTime())) best = t;
  }
  if (Number.isNaN(best)) throw new SyslogParseError("bad_timestamp", `RFC 3164 timestamp ${m[1]} ${m[2]} ${m[3]}:${m[4]}:${m[5]} is not a date`);
  // HOSTNAME is the token after the stamp. Senders that omit it (older RouterOS) put their
  // topics there instead, so the collector should name a router by its source address.
  return { format: "rfc3164", timeSource: "header", time: new Date(best), host: m[7]!, facility, severity, appName: null, structuredData: null, message: m[8] ?? "" };
}

export type OctetFramingErrorReason = "bad_length" | "frame_too_long";

/** The TCP stream has lost framing; the only recovery is to close the connection. */
export class OctetFramingError extends Error {
  constructor(
    readonly reason: OctetFramingErrorReason,
    readonly offset: number,
    message: string,
  ) {
    super(message);
    this.name = "OctetFramingError";
  }
}

/** RFC 5425 §4.3.1: receivers must take 2048 octets and should take 8192. */
export const octetFrameBytesMaxDefault = 8192;

/**
 * Splits RFC 6587 §3.4.1 octet-counted frames ("MSG-LEN SP SYSLOG-MSG") off the front of a TCP
 * buffer. A frame (or its length) cut off at the end stays in `remainder`; prepend it to the next
 * chunk. Frames are views into `buffer`, not copies. The remainder is bounded by frameBytesMax
 * plus the length prefix, because a larger declared length is refused before its bytes arrive.
 */
export function splitOctetCounted(buffer: Buffer, frameBytesMax: number = octetFrameBytesMaxDefault): { frames: Buffer[]; remainder: Buffer } {
  const frames: Buffer[] = [];
  const digitsMax = String(frameBytesMax).length;
  let pos = 0;
  while (pos < buffer.length) {
    let i = pos;
    let length = 0;
    for (; i < buffer.length; i++) {
      const c = buffer[i]!;
      if (c === 0x20) break;
      // MSG-LEN = NONZERO-DIGIT *DIGIT
      if (c < 0x30 || c > 0x39 || (i === pos && c === 0x30)) throw new OctetFramingError("bad_length", i, `byte 0x${c.toString(16)} at offset ${i} where MSG-LEN was expected`);
      length = length * 10 + (c - 0x30);
      if (i - pos + 1 > digitsMax || length > frameBytesMax) throw new OctetFramingError("frame_too_long", pos, `frame length exceeds ${frameBytesMax} bytes`);
    }
    if (i === buffer.length) break;
    if (i === pos) throw new OctetFramingError("bad_length", i, `empty MSG-LEN at offset ${i}`);
    const end = i + 1 + length;
    if (end > buffer.length) break;
    frames.push(buffer.subarray(i + 1, end));
    pos = end;
  }
  return { frames, remainder: buffer.subarray(pos) };
}

// ---------------------------------------------------------------------------------------------
// NAT payloads

export type NatVendor = "mikrotik" | "juniper" | "cisco";

export interface NatRecord {
  vendor: NatVendor;
  /** "open"/"close" for session logs; "packet" for MikroTik, which logs a packet that matched the rule. */
  event: "open" | "close" | "packet";
  /** Lower-case name ("tcp", "udp", "icmp", "gre") or the IP protocol number when unnamed. */
  protocol: string;
  privateIp: string;
  /** Null for protocols without ports (ICMP, GRE); Cisco's and Juniper's ICMP "ports" are query ids, not kept. */
  privatePort: number | null;
  publicIp: string;
  publicPort: number | null;
  destIp: string;
  destPort: number | null;
  /** From MikroTik's dynamic PPPoE interface name, in:<pppoe-USER>. */
  pppoeUser: string | null;
  srcMac: string | null;
}

export type NatParseReason =
  | "not_nat" // not a NAT log line at all, or a session without source translation
  | "not_srcnat" // a translation, but of the destination only (port forward): no subscriber to find
  | "malformed" // looks like a vendor's NAT line but does not match its format (often truncated)
  | "invalid_ip"
  | "invalid_port"
  | "too_long";

export type NatParseResult = { ok: true; record: NatRecord } | { ok: false; reason: NatParseReason; vendor: NatVendor | null };

export const natLineCharsMax = 4096;

// Syntax only; octet and port ranges are checked after the match so that the reason is precise.
const ip = String.raw`(\d+\.\d+\.\d+\.\d+)`;

// RouterOS: "[prefix ]chain: in:IF out:IF, [connection-state:S ][src-mac M, ]proto P[ (flags)], A[:p]->B[:p], NAT (A[:p]->C[:p])->B[:p], len N"
// ICMP's NAT part has been seen with and without the parentheses, so they are optional.
const mikrotikRe = new RegExp(
  String.raw`\bin:(<[^>]*>|\S+) out:(\([^)]*\)|[^,\s]+), ` +
    String.raw`(?:connection-state:[a-z]+(?:,[a-z]+)* )?` +
    String.raw`(?:src-mac ([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}), )?` +
    String.raw`proto (\w+)(?: \([^)]*\))?, ` +
    `${ip}(?::(\\d+))?->${ip}(?::(\\d+))?, ` +
    String.raw`NAT \(?[\d.]+(?::\d+)?->` +
    `${ip}(?::(\\d+))?\\)?->${ip}(?::(\\d+))?` +
    // RouterOS always ends with the length; requiring it catches lines cut inside the last port.
    String.raw`, len \d+`,
);

// Junos: "RT_FLOW_SESSION_CREATE[_LS]: session created S/sp->D/dp [0xT] SERVICE NS/nsp->ND/ndp [0xT]
//   SRC-RULE-TYPE SRC-RULE DST-RULE-TYPE DST-RULE PROTO ..." and "session closed REASON: ..." likewise.
const juniperRe = new RegExp(
  String.raw`RT_FLOW_SESSION_(CREATE|CLOSE)(?:_LS)?: session (?:created|closed [^:]*:) ` +
    `${ip}/(\\d+)->${ip}/(\\d+)(?: 0x[0-9a-fA-F]+)? \\S+ ${ip}/(\\d+)->${ip}/(\\d+)(?: 0x[0-9a-fA-F]+)? ` +
    String.raw`(N/A|(?:source|static) rule) \S+ (?:N/A|(?:destination|static) rule) \S+ (\d+)(?: |$)`,
);

// IOS "ip nat log translations syslog":   %IPNAT-6-CREATED: tcp IL:p IG:p OL:p OG:p
// IOS-XE (logged by the QFP):              %NAT-6-LOG_TRANSLATION: Created Translation TCP IL:p IG:p OL:p OG:p VRF
// IL inside local (private), IG inside global (public), OG outside global (the real destination).
const ciscoRe = new RegExp(
  String.raw`%(?:IPNAT-6-(CREATED|DELETED):|NAT-6-LOG_TRANSLATION: (Created|Deleted) Translation) (\w+) ` +
    `${ip}(?::(\\d+))? ${ip}(?::(\\d+))? ${ip}(?::(\\d+))? ${ip}(?::(\\d+))?(?: |$)`,
);

const protocolNames: Record<string, string> = { "1": "icmp", "6": "tcp", "17": "udp", "47": "gre", "50": "esp", "58": "ipv6-icmp" };

/** Dotted quad to canonical form, or null: octets over 255 and leading zeros (octal to some parsers) are refused. */
export function parseIpv4(text: string): string | null {
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0) return null;
      dots++;
      octet = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && octet === 0) return null;
      octet = octet * 10 + (c - 0x30);
      digits++;
      if (octet > 255) return null;
    } else return null;
  }
  return dots === 3 && digits > 0 ? text : null;
}

/** Port number 0..65535, or null. */
export function parsePort(text: string): number | null {
  if (text.length === 0 || text.length > 5 || (text.length > 1 && text.startsWith("0"))) return null;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
  }
  const n = Number(text);
  return n <= 65535 ? n : null;
}

function fail(reason: NatParseReason, vendor: NatVendor | null): NatParseResult {
  return { ok: false, reason, vendor };
}

/**
 * Builds the record from matched text, checking ranges. Ports are dropped for portless
 * protocols; for TCP and UDP every port must be present.
 */
function build(
  vendor: NatVendor,
  event: NatRecord["event"],
  protocol: string,
  privateIp: string,
  privatePort: string | undefined,
  publicIp: string,
  publicPort: string | undefined,
  destIp: string,
  destPort: string | undefined,
  pppoeUser: string | null,
  srcMac: string | null,
): NatParseResult {
  if (parseIpv4(privateIp) === null || parseIpv4(publicIp) === null || parseIpv4(destIp) === null) return fail("invalid_ip", vendor);
  const ported = protocol === "tcp" || protocol === "udp" || protocol === "sctp" || protocol === "udp-lite" || protocol === "dccp";
  let pp: number | null = null;
  let pub: number | null = null;
  let dp: number | null = null;
  if (ported) {
    if (privatePort === undefined || publicPort === undefined || destPort === undefined) return fail("malformed", vendor);
    pp = parsePort(privatePort);
    pub = parsePort(publicPort);
    dp = parsePort(destPort);
    if (pp === null || pub === null || dp === null) return fail("invalid_port", vendor);
  }
  return {
    ok: true,
    record: { vendor, event, protocol, privateIp, privatePort: pp, publicIp, publicPort: pub, destIp, destPort: dp, pppoeUser, srcMac },
  };
}

function parseMikrotik(message: string): NatParseResult {
  const m = mikrotikRe.exec(message);
  if (!m) {
    const nat = message.indexOf("NAT ");
    // dstnat reads "NAT A:p->(B:p->C:p)": the parenthesised pair is the destination.
    if (nat !== -1 && message.charCodeAt(nat + 4) !== 0x28 && message.indexOf("->(", nat) !== -1) return fail("not_srcnat", "mikrotik");
    return fail("malformed", "mikrotik");
  }
  const inIf = m[1]!;
  const pppoeUser = inIf.startsWith("<pppoe-") && inIf.endsWith(">") ? inIf.slice(7, -1) : null;
  const srcMac = m[3] === undefined ? null : m[3].toLowerCase();
  return build("mikrotik", "packet", m[4]!.toLowerCase(), m[5]!, m[6], m[9]!, m[10], m[11]!, m[12], pppoeUser, srcMac);
}

function parseJuniper(message: string): NatParseResult {
  if (message.indexOf("RT_FLOW_SESSION_CREATE") === -1 && message.indexOf("RT_FLOW_SESSION_CLOSE") === -1) return fail("not_nat", "juniper");
  const m = juniperRe.exec(message);
  if (!m) return fail("malformed", "juniper");
  if (m[10] === "N/A") return fail("not_nat", "juniper");
  const protoNumber = m[11]!;
  const protocol = protocolNames[protoNumber] ?? protoNumber;
  return build("juniper", m[1] === "CREATE" ? "open" : "close", protocol, m[2]!, m[3], m[6]!, m[7], m[4]!, m[5], null, null);
}

function parseCisco(message: string): NatParseResult {
  const m = ciscoRe.exec(message);
  if (!m) return fail("malformed", "cisco");
  const created = m[1] === "CREATED" || m[2] === "Created";
  return build("cisco", created ? "open" : "close", m[3]!.toLowerCase(), m[4]!, m[5], m[6]!, m[7], m[10]!, m[11], null, null);
}

/** Parses the MSG part of one syslog line (see parseSyslog). Never throws. */
export function parseNatLine(message: string): NatParseResult {
  if (typeof message !== "string") return fail("malformed", null);
  if (message.length > natLineCharsMax) return fail("too_long", null);
  // Cheap substring checks pick the vendor so that each line meets exactly one regex.
  if (message.indexOf("RT_FLOW_SESSION_") !== -1) return parseJuniper(message);
  if (message.indexOf("%IPNAT-") !== -1 || message.indexOf("%NAT-6-LOG_TRANSLATION") !== -1) return parseCisco(message);
  if (message.indexOf(" in:") !== -1 || message.startsWith("in:")) {
    if (message.indexOf("NAT ") === -1) return fail("not_nat", "mikrotik");
    return parseMikrotik(message);
  }
  return fail("not_nat", null);
}
