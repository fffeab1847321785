// Syslog receiver on UDP and TCP (RFC 5426 / RFC 6587). It only frames and hands lines to
// the NAT ingest; parsing happens in batches there. UDP: one message per datagram, received
// on a worker thread (syslog-udp.ts) and dropped (counted by the ingest) when the hand-off
// or the queue is full. TCP: octet-counted or LF framing per
// connection, a bounded number of connections, and backpressure: when the ingest says
// "full" every connection is paused (the kernel's receive window then pushes back on the
// router) until the queue drains, so nothing is lost on TCP.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "../log";
import { normaliseIp } from "./caches";
import type { NatIngest } from "./nat-ingest";
import { createTcpFramer } from "./syslog-framing";
import { createUdpReceiver, defaultUdpReceiverConfig, kernelDrops, rmemMax, type UdpReceiver } from "./syslog-udp";

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
  /** Kernel receive buffer asked for the UDP socket (bursts from many routers); Linux caps it at net.core.rmem_max. */
  udpRecvBufferBytes: number;
  /** Receive UDP on a worker thread (syslog-udp.ts) so main-thread stalls do not overflow the kernel buffer. */
  udpWorker: boolean;
  /** Datagrams handed from the worker and not yet offered to the ingest; beyond it they are dropped (counted). */
  udpHandoffDatagramsMax: number;
}

export const defaultSyslogListenerConfig: SyslogListenerConfig = {
  host: "0.0.0.0",
  udpPort: 5514,
  tcpPort: 5514,
  tcpConnectionsMax: 256,
  lineBytesMax: 8192,
  tcpIdleTimeoutMs: 15 * 60_000,
  udpRecvBufferBytes: 32 * 1024 * 1024,
  udpWorker: true,
  udpHandoffDatagramsMax: 65_536,
};

export interface SyslogListenerCounters {
  udpDatagrams: number;
  tcpConnections: number;
  tcpConnectionsRefused: number;
  tcpFrames: number;
  framingErrors: number;
  pauses: number;
  /** The UDP socket's receive buffer as the kernel granted it (getsockopt: twice the usable size on Linux). */
  udpRecvBufferBytes: number;
  /** Datagrams the kernel dropped on the UDP socket (buffer full; /proc/net/udp, Linux), read when asked. */
  readonly udpKernelDrops: number | null;
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
  const ports = { udp: null as number | null, tcp: null as number | null };
  const counters: SyslogListenerCounters = {
    udpDatagrams: 0,
    tcpConnections: 0,
    tcpConnectionsRefused: 0,
    tcpFrames: 0,
    framingErrors: 0,
    pauses: 0,
    udpRecvBufferBytes: 0,
    get udpKernelDrops() {
      return ports.udp === null ? null : kernelDrops(ports.udp);
    },
  };
  let udp: UdpSocket | null = null;
  let udpReceiver: UdpReceiver | null = null;
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

  const startUdpInline = async (udpPort: number) => {
    const family = cfg.host.includes(":") ? "udp6" : "udp4";
    const sock = createSocket({ type: family, recvBufferSize: cfg.udpRecvBufferBytes });
    sock.on("message", (msg, rinfo) => {
      counters.udpDatagrams++;
      // Datagrams over the limit are refused by parseSyslog (too_long) and quarantined.
      const text = msg.length > cfg.lineBytesMax + 2 ? msg.toString("utf8", 0, cfg.lineBytesMax + 1) : msg.toString("utf8");
      ingest.offer(text, normaliseIp(rinfo.address), new Date(), "udp");
    });
    await new Promise<void>((resolve, reject) => {
      sock.once("error", (err) => reject(new Error(`syslog: cannot listen on udp ${cfg.host}:${udpPort}: ${err.message} (set SYSLOG_UDP_PORT, or SYSLOG=off)`)));
      sock.bind(udpPort, cfg.host, () => {
        sock.removeAllListeners("error");
        sock.on("error", (err) => log.warn("syslog UDP socket error", { error: err.message }));
        resolve();
      });
    });
    udp = sock;
    ports.udp = sock.address().port;
    counters.udpRecvBufferBytes = sock.getRecvBufferSize();
  };

  const startUdpWorker = async (udpPort: number) => {
    // A handful of routers send to us: normalise each address once.
    const senders = new Map<string, string>();
    const receiver = createUdpReceiver(
      {
        host: cfg.host,
        port: udpPort,
        recvBufferBytes: cfg.udpRecvBufferBytes,
        // Datagrams over the limit are refused by parseSyslog (too_long) and quarantined.
        datagramBytesMax: cfg.lineBytesMax + 2,
        batchDatagramsMax: defaultUdpReceiverConfig.batchDatagramsMax,
        batchMs: defaultUdpReceiverConfig.batchMs,
        handoffDatagramsMax: cfg.udpHandoffDatagramsMax,
      },
      {
        datagram(text, address, receivedAtMs) {
          counters.udpDatagrams++;
          let ip = senders.get(address);
          if (ip === undefined) {
            ip = normaliseIp(address);
            if (senders.size >= 4096) senders.clear();
            senders.set(address, ip);
          }
          ingest.offer(text, ip, receivedAtMs, "udp");
        },
        dropped(count, reason) {
          ingest.countDropped(count, reason === "worker_exit" ? "udp_worker_exit" : "udp_handoff_full");
        },
      },
      log,
    );
    const r = await receiver.start();
    udpReceiver = receiver;
    ports.udp = r.port;
    counters.udpRecvBufferBytes = r.recvBufferBytes;
  };

  return {
    async start() {
      if (cfg.udpPort !== null) {
        if (cfg.udpWorker) await startUdpWorker(cfg.udpPort);
        else await startUdpInline(cfg.udpPort);
        if (ports.udp !== null) {
          const max = rmemMax();
          const granted = counters.udpRecvBufferBytes;
          // Linux caps the request at rmem_max (silently) and reports twice what it keeps.
          const capped = max !== null && cfg.udpRecvBufferBytes > max;
          log.info(
            `syslog UDP receive buffer ${granted} bytes (asked ${cfg.udpRecvBufferBytes}${capped ? `, capped by net.core.rmem_max ${max}: raise it for bursts` : ""}), ${cfg.udpWorker ? "socket on a worker thread" : "socket on the main thread"}`,
          );
        }
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
      const w = udpReceiver;
      udpReceiver = null;
      if (w) await w.close();
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
