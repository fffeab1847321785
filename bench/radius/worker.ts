// One load-generator thread (or the echo peer that measures the generator's ceiling).
// Driven by messages from load.ts: "prepare" pre-encodes this thread's packet pool,
// "run" sends it (closed loop with a window, or paced at a rate) and answers with counts,
// a latency histogram and, for accounting, which packets were acknowledged.
import { createHash } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { parentPort, workerData } from "node:worker_threads";
import {
  acctOrder,
  encodeAccessRequest,
  encodeAccountingRequest,
  slotOf,
} from "./packets";
import { histBucket, HIST_BUCKETS, type PrepareMessage, type RunMessage, type RunResult } from "./protocol";

interface Pool {
  packets: Buffer[];
  cycle: boolean;
}

const port = parentPort;
if (!port) throw new Error("bench/radius/worker.ts runs as a worker thread");
const role = (workerData as { role?: string } | undefined)?.role ?? "generator";

if (role === "echo") {
  // The trivial peer: every datagram straight back. Its own cost is part of the ceiling.
  const echo = createSocket({ type: "udp4", recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
  echo.on("message", (msg, rinfo) => echo.send(msg, rinfo.port, rinfo.address));
  echo.bind(0, "127.0.0.1", () => port.postMessage({ type: "echo-ready", port: echo.address().port }));
  port.on("message", (m: { type: string }) => {
    if (m.type === "stop") echo.close(() => port.close());
  });
} else {
  let sockets: Socket[] = [];
  let pool: Pool = { packets: [], cycle: true };
  let next = 0;
  let secret = "";
  // A slot whose request timed out may still get that old answer after the identifier was
  // reused (in this run or the next): answers on such a slot are checked against the
  // current request's authenticator.
  let tainted = new Uint8Array(0);

  port.on("message", (m: PrepareMessage | RunMessage | { type: "stop" }) => {
    if (m.type === "prepare") {
      void prepare(m).then(() => port.postMessage({ type: "prepared", packets: pool.packets.length }));
    } else if (m.type === "run") {
      void run(m).then((result) => port.postMessage({ type: "result", result }, [result.hist.buffer as ArrayBuffer, ...(result.acked ? [result.acked.buffer as ArrayBuffer] : [])]));
    } else {
      for (const s of sockets) s.close();
      port.close();
    }
  });

  async function prepare(m: PrepareMessage): Promise<void> {
    secret = m.secret;
    for (const s of sockets) s.close();
    sockets = await Promise.all(
      Array.from({ length: m.sockets }, async () => {
        const s = createSocket({ type: "udp4", recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
        await new Promise<void>((resolve, reject) => {
          s.once("error", reject);
          s.bind(0, "127.0.0.1", () => s.connect(m.port, m.host, () => resolve()));
        });
        return s;
      }),
    );
    const packets: Buffer[] = [];
    if (m.kind === "auth") {
      m.credentials.forEach((c, i) => packets.push(encodeAccessRequest(c, slotOf(i, m.sockets).identifier, m.secret, m.nasIp, m.portBase + i)));
      pool = { packets, cycle: true };
    } else {
      const now = new Date();
      acctOrder(m.sessions.length, m.interims).forEach(({ session, step }, i) =>
        packets.push(encodeAccountingRequest(m.sessions[session]!, step, m.interims, slotOf(i, m.sockets).identifier, m.secret, m.nasIp, now)),
      );
      pool = { packets, cycle: false };
    }
    next = 0;
    tainted = new Uint8Array(m.sockets * 256);
  }

  /** RFC 2865 3: the Response Authenticator is MD5(Code+ID+Length+RequestAuth+Attributes+Secret). */
  function answers(reply: Buffer, request: Buffer): boolean {
    const length = reply.readUInt16BE(2);
    if (length < 20 || length > reply.length) return false;
    const expected = createHash("md5").update(reply.subarray(0, 4)).update(request.subarray(4, 20)).update(reply.subarray(20, length)).update(secret).digest();
    return expected.equals(reply.subarray(4, 20));
  }

  function run(m: RunMessage): Promise<RunResult> {
    const nSockets = sockets.length;
    const slots = nSockets * 256;
    const sentAt = new Float64Array(slots);
    const slotPacket = new Int32Array(slots).fill(-1);
    const hist = new Uint32Array(HIST_BUCKETS);
    const acked = pool.cycle ? null : new Uint8Array(pool.packets.length);
    const r: Omit<RunResult, "hist" | "acked"> = {
      sent: 0, answered: 0, answeredInPeriod: 0, periodMs: 0, accepts: 0, rejects: 0, acctResponses: 0,
      otherCodes: 0, timeouts: 0, stray: 0, maxBacklog: 0,
    };
    let outstanding = 0;
    let sendsLeft = m.maxPackets;
    const start = performance.now();
    const endAt = start + m.seconds * 1000;
    let sending = true;
    let ranDry = false;
    let lastAnswerAt = start;
    let finish: (() => void) | undefined;

    const exhausted = () => sendsLeft <= 0 || (!pool.cycle && next >= pool.packets.length);

    /** Sends the next pool packet if its slot is free; false when it cannot. */
    function sendOne(): boolean {
      if (exhausted() || outstanding >= m.window) return false;
      const index = pool.cycle ? next % pool.packets.length : next;
      const { socket, identifier } = slotOf(index, nSockets);
      const slot = socket * 256 + identifier;
      if (slotPacket[slot] !== -1) return false; // that identifier is still waiting for its answer
      slotPacket[slot] = index;
      sentAt[slot] = performance.now();
      sockets[socket]!.send(pool.packets[index]!);
      next++;
      sendsLeft--;
      outstanding++;
      r.sent++;
      return true;
    }

    function settle(slot: number): void {
      slotPacket[slot] = -1;
      outstanding--;
      if (sending && m.mode === "closed") {
        while (outstanding < m.window && sendOne()) {
          /* refill the window */
        }
      }
      if (!sending && outstanding === 0) finish?.();
    }

    const onMessage = (socketIndex: number) => (msg: Buffer) => {
      if (msg.length < 20) return;
      const slot = socketIndex * 256 + msg[1]!;
      const index = slotPacket[slot]!;
      if (index === -1 || (tainted[slot] === 1 && !answers(msg, pool.packets[index]!))) {
        r.stray++;
        return;
      }
      const now = performance.now();
      const us = (now - sentAt[slot]!) * 1000;
      hist[histBucket(us)]!++;
      r.answered++;
      lastAnswerAt = now;
      if (now <= endAt) r.answeredInPeriod++;
      const code = msg[0]!;
      if (code === 2) r.accepts++;
      else if (code === 3) r.rejects++;
      else if (code === 5) {
        r.acctResponses++;
        if (acked) acked[index] = 1;
      } else r.otherCodes++;
      settle(slot);
    };
    const listeners = sockets.map((s, i) => {
      const l = onMessage(i);
      s.on("message", l);
      return l;
    });

    const sweep = setInterval(() => {
      const now = performance.now();
      for (let slot = 0; slot < slots; slot++) {
        if (slotPacket[slot] !== -1 && now - sentAt[slot]! > m.timeoutMs) {
          r.timeouts++;
          tainted[slot] = 1;
          settle(slot);
        }
      }
      if (sending && (now >= endAt || exhausted())) stopSending(now);
    }, 10);

    let pacer: ReturnType<typeof setInterval> | undefined;
    if (m.mode === "closed") {
      while (sendOne()) {
        /* fill the window */
      }
    } else {
      // A 1 ms timer and a burst of whatever is due: no busy loop stealing the server's core.
      let due = 0;
      pacer = setInterval(() => {
        const now = performance.now();
        if (!sending) return;
        const target = Math.min(m.maxPackets, Math.floor(((now - start) / 1000) * m.rate));
        due = target - r.sent;
        while (due > 0 && sendOne()) due--;
        if (due > r.maxBacklog && !exhausted()) r.maxBacklog = due;
      }, 1);
    }

    function stopSending(now: number): void {
      sending = false;
      ranDry = now < endAt;
      r.periodMs = Math.min(now, endAt) - start;
      if (pacer) clearInterval(pacer);
      if (outstanding === 0) finish?.();
    }

    return new Promise<RunResult>((resolve) => {
      finish = () => {
        clearInterval(sweep);
        sockets.forEach((s, i) => s.off("message", listeners[i]!));
        // A pool that ran dry before the deadline: the period is up to the last answer.
        if (ranDry) {
          r.periodMs = lastAnswerAt - start;
          r.answeredInPeriod = r.answered;
        }
        resolve({ ...r, hist, acked });
      };
    });
  }
}
