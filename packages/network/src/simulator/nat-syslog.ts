// Demo NAT logs: a simulated router's srcnat firewall log lines, as RouterOS sends them over
// syslog (RFC 3164, local PKT wall time, `firewall,info` topics), for the sessions the
// RouterSimulator has up. Sent over UDP from the router's own loopback address so the
// collector attributes them to that router.
import { createSocket, type Socket } from "node:dgram";

export interface NatSyslogSession {
  username: string;
  framedIp: string;
  callingStationId: string;
}

export interface NatSyslogOptions {
  /** Bound as the source address (the router's address, e.g. 127.0.0.2). */
  sourceIp: string;
  /** HOSTNAME in the syslog header. */
  hostname: string;
  serverHost: string;
  serverPort: number;
  /** The router's public (masquerade) address. */
  publicIp: string;
  linesPerSecond: number;
  /** The sessions up right now (RouterSimulator.sessions). */
  sessions: () => readonly NatSyslogSession[];
  /** RouterOS logs local time; PKT = UTC+5. */
  utcOffsetMinutes?: number;
  seed?: number;
}

export interface NatFlow {
  protocol: "tcp" | "udp" | "icmp";
  privatePort: number;
  publicPort: number;
  destIp: string;
  destPort: number;
}

const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const two = (n: number) => String(n).padStart(2, "0");

/** RFC 3164 TIMESTAMP ("Nov  4 09:01:07") of `at` shown at a UTC offset. */
export function rfc3164Stamp(at: Date, utcOffsetMinutes: number): string {
  const t = new Date(at.getTime() + utcOffsetMinutes * 60_000);
  return `${months[t.getUTCMonth()]} ${String(t.getUTCDate()).padStart(2, " ")} ${two(t.getUTCHours())}:${two(t.getUTCMinutes())}:${two(t.getUTCSeconds())}`;
}

/** One RouterOS srcnat log line (with the syslog header) for a subscriber's PPPoE session. */
export function mikrotikNatLine(session: NatSyslogSession, flow: NatFlow, publicIp: string, hostname: string, at: Date, utcOffsetMinutes = 300): string {
  const mac = session.callingStationId.toLowerCase().replaceAll("-", ":");
  const head = `<134>${rfc3164Stamp(at, utcOffsetMinutes)} ${hostname} firewall,info srcnat: in:<pppoe-${session.username}> out:ether1, connection-state:new src-mac ${mac}, `;
  if (flow.protocol === "icmp") {
    return `${head}proto ICMP (type 8, code 0), ${session.framedIp}->${flow.destIp}, NAT (${session.framedIp}->${publicIp})->${flow.destIp}, len 84`;
  }
  const proto = flow.protocol === "tcp" ? "TCP (SYN)" : "UDP";
  const len = flow.protocol === "tcp" ? 60 : 76;
  return (
    `${head}proto ${proto}, ${session.framedIp}:${flow.privatePort}->${flow.destIp}:${flow.destPort}, ` +
    `NAT (${session.framedIp}:${flow.privatePort}->${publicIp}:${flow.publicPort})->${flow.destIp}:${flow.destPort}, len ${len}`
  );
}

const destinations: [string, number, "tcp" | "udp"][] = [
  ["142.250.181.14", 443, "tcp"],
  ["157.240.227.35", 443, "tcp"],
  ["40.127.110.237", 443, "tcp"],
  ["104.16.132.229", 80, "tcp"],
  ["8.8.8.8", 53, "udp"],
  ["1.1.1.1", 53, "udp"],
  ["157.240.227.35", 3478, "udp"],
];

/** mulberry32: a small deterministic PRNG, so a seeded demo repeats. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class NatSyslogSender {
  private socket: Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly random: () => number;
  private carry = 0;
  /** Lines handed to the socket. */
  sent = 0;

  constructor(private readonly opts: NatSyslogOptions) {
    this.random = prng(opts.seed ?? 1);
  }

  async start(): Promise<void> {
    const s = createSocket("udp4");
    s.on("error", () => undefined);
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.bind(0, this.opts.sourceIp, () => {
        s.off("error", reject);
        resolve();
      });
    });
    this.socket = s;
    const tickMs = 200;
    this.timer = setInterval(() => this.tick(tickMs), tickMs);
    this.timer.unref();
  }

  private tick(ms: number): void {
    const sessions = this.opts.sessions();
    if (!this.socket || sessions.length === 0) return;
    this.carry += (this.opts.linesPerSecond * ms) / 1000;
    const now = new Date();
    for (; this.carry >= 1; this.carry--) {
      const session = sessions[Math.floor(this.random() * sessions.length)]!;
      const r = this.random();
      const [destIp, destPort, proto] = destinations[Math.floor(this.random() * destinations.length)]!;
      const privatePort = 1024 + Math.floor(this.random() * 64_000);
      // Masquerade keeps the source port unless it is taken; now and then it is.
      const publicPort = this.random() < 0.9 ? privatePort : 1024 + Math.floor(this.random() * 64_000);
      const flow: NatFlow = { protocol: r < 0.05 ? "icmp" : proto, privatePort, publicPort, destIp, destPort };
      const line = mikrotikNatLine(session, flow, this.opts.publicIp, this.opts.hostname, now, this.opts.utcOffsetMinutes ?? 300);
      this.socket.send(line, this.opts.serverPort, this.opts.serverHost);
      this.sent++;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
