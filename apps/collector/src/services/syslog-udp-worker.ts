// The syslog UDP socket on its own thread (started by syslog-udp.ts). Its only job is to
// keep the kernel's receive buffer empty: a datagram that finds the buffer full is lost
// without trace, and the main thread stalls for tens of milliseconds at a time (parsing a
// 5,000-line batch, encoding its COPY, GC). Here nothing else runs on the event loop:
// datagrams are copied into a packed batch (bytes + offsets + times + senders) whose
// ArrayBuffers are transferred to the main thread every `batchDatagramsMax` datagrams or
// `batchMs`. The main thread acknowledges each batch once it has offered its lines to the
// ingest; datagrams that arrive while `handoffDatagramsMax` are unacknowledged are dropped
// here and counted (reported with the next batch), so the hand-off is bounded too.
import { createSocket } from "node:dgram";
import { parentPort, workerData } from "node:worker_threads";
import type { UdpWorkerData, UdpWorkerReply, UdpWorkerRequest } from "./syslog-udp";

const port = parentPort;
if (!port) throw new Error("syslog-udp-worker.ts runs as a worker thread (see syslog-udp.ts)");
const cfg = workerData as UdpWorkerData;
const taken = new Int32Array(cfg.taken);

const sock = createSocket({ type: cfg.host.includes(":") ? "udp6" : "udp4" });

let capacity = 256 * 1024;
let bytes = new Uint8Array(capacity);
let used = 0;
const ends = new Uint32Array(cfg.batchDatagramsMax);
const times = new Float64Array(cfg.batchDatagramsMax);
const senderOf = new Uint16Array(cfg.batchDatagramsMax);
let senders: string[] = [];
let senderIndex = new Map<string, number>();
let count = 0;
let unacked = 0;
let dropped = 0;
let timer: NodeJS.Timeout | null = null;
let closing = false;

const post = (m: UdpWorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

function flush(): void {
  if (timer) {
    clearTimeout(timer);
    timer = null;
  }
  if (count === 0 && dropped === 0) return;
  // Exactly-sized copies are transferred, so the buffers kept here are reused.
  const b = bytes.slice(0, used);
  const e = ends.slice(0, count);
  const t = times.slice(0, count);
  const s = senderOf.slice(0, count);
  post({ type: "batch", count, bytes: b.buffer, ends: e.buffer, times: t.buffer, senderOf: s.buffer, senders, dropped }, [b.buffer, e.buffer, t.buffer, s.buffer]);
  unacked += count;
  count = 0;
  used = 0;
  dropped = 0;
  senders = [];
  senderIndex = new Map();
}

sock.on("message", (msg, rinfo) => {
  Atomics.add(taken, 0, 1);
  if (unacked + count >= cfg.handoffDatagramsMax) {
    dropped++;
    if (!timer) timer = setTimeout(flush, cfg.batchMs);
    return;
  }
  // Longer datagrams are cut here (parseSyslog quarantines them as too_long anyway).
  const n = Math.min(msg.length, cfg.datagramBytesMax);
  if (used + n > capacity) {
    if (count > 0) flush();
    if (n > capacity) {
      capacity = n;
      bytes = new Uint8Array(capacity);
    }
  }
  bytes.set(n === msg.length ? msg : msg.subarray(0, n), used);
  used += n;
  ends[count] = used;
  times[count] = Date.now();
  let si = senderIndex.get(rinfo.address);
  if (si === undefined) {
    si = senders.length;
    senders.push(rinfo.address);
    senderIndex.set(rinfo.address, si);
  }
  senderOf[count] = si;
  count++;
  if (count >= cfg.batchDatagramsMax || senders.length >= 65_535) flush();
  else if (!timer) timer = setTimeout(flush, cfg.batchMs);
});

port.on("message", (m: UdpWorkerRequest) => {
  if (m.type === "ack") {
    unacked = Math.max(0, unacked - m.count);
  } else if (m.type === "close" && !closing) {
    closing = true;
    sock.close(() => {
      flush();
      post({ type: "closed" });
      port.close();
    });
  }
});

sock.once("error", (err) => post({ type: "error", message: err.message }));
sock.bind(cfg.port, cfg.host, () => {
  sock.removeAllListeners("error");
  sock.on("error", (err) => post({ type: "warning", message: err.message }));
  // Linux caps SO_RCVBUF at net.core.rmem_max without an error (and reports double what
  // was set, for its bookkeeping): ask, then report what was granted.
  try {
    if (cfg.recvBufferBytes > 0) sock.setRecvBufferSize(cfg.recvBufferBytes);
  } catch {
    // Not fatal: the default buffer still works, just with less room for bursts.
  }
  let granted: number;
  try {
    granted = sock.getRecvBufferSize();
  } catch {
    granted = 0;
  }
  post({ type: "listening", port: sock.address().port, recvBufferBytes: granted });
});

