// Messages between load.ts and its worker threads (worker.ts), kept apart so that
// importing them does not start a worker body.
import type { AcctSession, Credential } from "./packets";

// Latency histogram: 10 us buckets up to 50 ms, then 1 ms buckets up to 10 s (the last
// bucket holds everything slower).
const FINE_US = 10;
const FINE_BUCKETS = 5_000;
const COARSE_US = 1_000;
export const HIST_BUCKETS = FINE_BUCKETS + 9_950;

export function histBucket(us: number): number {
  if (us < FINE_US * FINE_BUCKETS) return Math.max(0, Math.floor(us / FINE_US));
  return Math.min(HIST_BUCKETS - 1, FINE_BUCKETS + Math.floor((us - FINE_US * FINE_BUCKETS) / COARSE_US));
}

/** Upper edge of a bucket, in ms. */
export function histBucketUpperMs(i: number): number {
  return i < FINE_BUCKETS ? ((i + 1) * FINE_US) / 1000 : (FINE_US * FINE_BUCKETS + (i - FINE_BUCKETS + 1) * COARSE_US) / 1000;
}

export type PrepareMessage =
  | { type: "prepare"; kind: "auth"; host: string; port: number; secret: string; nasIp: string; sockets: number; credentials: Credential[]; portBase: number }
  | { type: "prepare"; kind: "acct"; host: string; port: number; secret: string; nasIp: string; sockets: number; sessions: AcctSession[]; interims: number };

export interface RunMessage {
  type: "run";
  /** closed: keep `window` requests outstanding; paced: send `rate` per second (window caps outstanding). */
  mode: "closed" | "paced";
  rate: number;
  window: number;
  seconds: number;
  timeoutMs: number;
  /** Stop after this many sends (the pool is cycled for auth; accounting never repeats a packet). */
  maxPackets: number;
}

export interface RunResult {
  sent: number;
  answered: number;
  /** Answers that arrived inside the sending period: the throughput numerator. */
  answeredInPeriod: number;
  periodMs: number;
  accepts: number;
  rejects: number;
  acctResponses: number;
  otherCodes: number;
  timeouts: number;
  /** Answers matching nothing outstanding: duplicates, or late answers to a timed-out request (told apart by the Response Authenticator). */
  stray: number;
  /** Paced mode: the largest number of sends that were due but held back by a full window. */
  maxBacklog: number;
  hist: Uint32Array;
  /** Accounting: 1 per pool packet that got an Accounting-Response. */
  acked: Uint8Array | null;
}
