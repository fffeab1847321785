// Syslog receiver on UDP and TCP (RFC 5426 / RFC 6587). It only frames and hands lines to
// the NAT ingest; parsing happens in batches there. UDP: one message per datagram, dropped
// (and counted by the ingest) when the queue is full. TCP: octet-counted or LF framing per
// connection, a bounded number of connections, and backpressure: when the ingest says
// "full" every connection is paused (the kernel's receive window then pushes back on the
// router) until the queue drains, so nothing is lost on TCP.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "../log";
import { normaliseIp } from "./caches";
import type { NatIngest } from "./nat-ingest";
import { createTcpFramer } from "./syslog-framing";

export interface SyslogListenerConfig {
  host: string;
  /** null = off; 0 = ephemeral (tests). */
  udpPort: number | null;
  tcpPort: number | null;
  tcpConnectionsMax: number;
  /** Longest frame or line accepted; also each connection's buffer bound. */
  lineBytesMax: number;
  /** A TCP connection silent this long is closed. */
  tcpIdleTimeoutMs: number;
  /** Kernel receive buffer asked for the UDP socket (bursts from many routers). */
  udpRecvBufferBytes: number;
}

export const defaultSyslogListenerConfig: SyslogListenerConfig = {
  host: "0.0.0.0",
  udpPort: 5514,
  tcpPort: 5514,
  tcpConnectionsMax: 256,
  lineBytesMax: 8192,
  tcpIdleTimeoutMs: 15 * 60_000,
  udpRecvBufferBytes: 8 * 1024 * 1024,
};

export interface SyslogListenerCounters {
  udpDatagrams: number;
  tcpConnections: number;
  tcpConnectionsRefused: number;
  tcpFrames: number;
  framingErrors: number;
  pauses: number;
}

export interface SyslogListener {
  start(): Promise<{ udp: number | null; tcp: number | null }>;
  /** Stops accepting; open TCP connections are read to the end of what they buffered. */
  close(): Promise<void>;
  readonly ports: { udp: number | null; tcp: number | null };
  readonly counters: SyslogListenerCounters;
  readonly connections: number;
}

export function createSyslogListener(config: Partial<SyslogListenerConfig>, ingest: NatIngest, log: Logger): SyslogListener {
  const cfg = { ...defaultSyslogListenerConfig, ...config };
  const counters: SyslogListenerCounters = { udpDatagrams: 0, tcpConnections: 0, tcpConnectionsRefused: 0, tcpFrames: 0, framingErrors: 0, pauses: 0 };
  const ports = { udp: null as number | null, tcp: null as number | null };
  let udp: UdpSocket | null = null;
  let tcp: Server | null = null;
  const sockets = new Set<Socket>();
  const pausedSockets = new Set<Socket>();

  ingest.onDrain(() => {
    for (const s of pausedSockets) if (!s.destroyed) s.resume();
    pausedSockets.clear();
  });

  const onConnection = (socket: Socket) => {
    if (sockets.size >= cfg.tcpConnectionsMax) {
      counters.tcpConnectionsRefused++;
      socket.destroy();
      return;
    }
    counters.tcpConnections++;
    sockets.add(socket);
    const sourceIp = normaliseIp(socket.remoteAddress ?? "");
    const framer = createTcpFramer(cfg.lineBytesMax);
    socket.setTimeout(cfg.tcpIdleTimeoutMs, () => socket.destroy());
    const deliver = (out: ReturnType<typeof framer.push>) => {
      const now = new Date();
      let room = true;
      for (const line of out.lines) {
        counters.tcpFrames++;
        room = ingest.offer(line, sourceIp, now, "tcp") && room;
      }
      for (const e of out.errors) {
        counters.framingErrors++;
        ingest.reject(e.raw, sourceIp, now, `tcp_${e.reason}`);
      }
      if (out.fatal) {
        log.warn(`closing syslog connection from ${sourceIp}: framing lost`, { reason: out.errors.at(-1)?.reason });
        socket.destroy();
        return;
      }
      if (!room || !ingest.hasRoom) {
        counters.pauses++;
        socket.pause();
        pausedSockets.add(socket);
        // The queue may have drained between the check and the pause.
        if (ingest.hasRoom) {
          pausedSockets.delete(socket);
          socket.resume();
        }
      }
    };
    socket.on("data", (chunk: Buffer) => deliver(framer.push(chunk)));
    socket.on("end", () => {
      deliver(framer.end());
      socket.end();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      sockets.delete(socket);
      pausedSockets.delete(socket);
    });
  };

  return {
    async start() {
      if (cfg.udpPort !== null) {
        const family = cfg.host.includes(":") ? "udp6" : "udp4";
        const sock = createSocket({ type: family, recvBufferSize: cfg.udpRecvBufferBytes });
        sock.on("message", (msg, rinfo) => {
          counters.udpDatagrams++;
          // Datagrams over the limit are refused by parseSyslog (too_long) and quarantined.
          const text = msg.length > cfg.lineBytesMax + 2 ? msg.toString("utf8", 0, cfg.lineBytesMax + 1) : msg.toString("utf8");
          ingest.offer(text, normaliseIp(rinfo.address), new Date(), "udp");
        });
        await new Promise<void>((resolve, reject) => {
          sock.once("error", (err) => reject(new Error(`syslog: cannot listen on udp ${cfg.host}:${cfg.udpPort}: ${err.message} (set SYSLOG_UDP_PORT, or SYSLOG=off)`)));
          sock.bind(cfg.udpPort ?? 0, cfg.host, () => {
            sock.removeAllListeners("error");
            sock.on("error", (err) => log.warn("syslog UDP socket error", { error: err.message }));
            resolve();
          });
        });
        udp = sock;
        ports.udp = sock.address().port;
      }
      if (cfg.tcpPort !== null) {
        const server = createServer({ noDelay: true }, onConnection);
        await new Promise<void>((resolve, reject) => {
          server.once("error", (err) => reject(new Error(`syslog: cannot listen on tcp ${cfg.host}:${cfg.tcpPort}: ${err.message} (set SYSLOG_TCP_PORT, or SYSLOG=off)`)));
          server.listen(cfg.tcpPort ?? 0, cfg.host, () => {
            server.removeAllListeners("error");
            server.on("error", (err) => log.warn("syslog TCP server error", { error: err.message }));
            resolve();
          });
        });
        tcp = server;
        const addr = server.address();
        ports.tcp = typeof addr === "object" && addr ? addr.port : null;
      }
      return { ...ports };
    },
    async close() {
      const u = udp;
      udp = null;
      if (u) await new Promise<void>((r) => u.close(() => r()));
      const t = tcp;
      tcp = null;
      if (t) {
        const closed = new Promise<void>((r) => t.close(() => r()));
        // Senders get a FIN; what they already sent is still read and queued.
        for (const s of sockets) {
          s.resume();
          s.end();
        }
        const deadline = setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, 2_000);
        await closed;
        clearTimeout(deadline);
      }
    },
    ports,
    counters,
    get connections() {
      return sockets.size;
    },
  };
}
