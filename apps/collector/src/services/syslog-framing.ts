// RFC 6587 framing of a syslog TCP stream, one framer per connection. A sender uses one
// method for the whole connection (§3.4), so the first byte decides: a digit means
// octet counting ("MSG-LEN SP MSG", split by @isp/network's splitOctetCounted), anything
// else non-transparent framing (frames end at LF). Both keep at most one line's worth of
// bytes between chunks, so a connection's buffer is bounded by lineBytesMax.
import { OctetFramingError, splitOctetCounted } from "@isp/network/nat/parse";

export interface FrameError {
  /** too_long (a line over the limit, kept truncated), framing_bad_length, framing_frame_too_long, truncated_frame. */
  reason: string;
  /** The offending bytes, at most lineBytesMax of them. */
  raw: string;
}

export interface FramerOutput {
  lines: string[];
  errors: FrameError[];
  /** The stream cannot be re-synchronised: the connection must be closed. */
  fatal: boolean;
}

export interface TcpFramer {
  push(chunk: Buffer): FramerOutput;
  /** The connection ended: whatever is buffered becomes a last line or an error. */
  end(): FramerOutput;
  readonly mode: "octet" | "lf" | null;
  readonly bufferedBytes: number;
}

const LF = 0x0a;
const CR = 0x0d;

function decode(buf: Buffer): string {
  const end = buf.length > 0 && buf[buf.length - 1] === CR ? buf.length - 1 : buf.length;
  return buf.toString("utf8", 0, end);
}

export function createTcpFramer(lineBytesMax: number): TcpFramer {
  let mode: "octet" | "lf" | null = null;
  let pending: Buffer = Buffer.alloc(0);
  // LF mode: the rest of an over-long line is discarded up to its LF (its head was reported).
  let discarding = false;
  let dead = false;

  const out = (): FramerOutput => ({ lines: [], errors: [], fatal: false });

  const pushLf = (data: Buffer, res: FramerOutput) => {
    let pos = 0;
    for (;;) {
      const nl = data.indexOf(LF, pos);
      if (nl === -1) break;
      const line = data.subarray(pos, nl);
      if (discarding) discarding = false;
      else if (line.length > lineBytesMax) res.errors.push({ reason: "too_long", raw: decode(line.subarray(0, lineBytesMax)) });
      else if (line.length > 0 && !(line.length === 1 && line[0] === CR)) res.lines.push(decode(line));
      pos = nl + 1;
    }
    const rest = data.subarray(pos);
    if (discarding) pending = Buffer.alloc(0);
    else if (rest.length > lineBytesMax) {
      res.errors.push({ reason: "too_long", raw: decode(rest.subarray(0, lineBytesMax)) });
      discarding = true;
      pending = Buffer.alloc(0);
    } else {
      // A copy, so the (possibly 64 KiB) chunk is not retained for a few bytes.
      pending = Buffer.from(rest);
    }
  };

  const pushOctet = (data: Buffer, res: FramerOutput) => {
    try {
      const { frames, remainder } = splitOctetCounted(data, lineBytesMax);
      for (const f of frames) res.lines.push(decode(f));
      pending = Buffer.from(remainder);
    } catch (err) {
      if (!(err instanceof OctetFramingError)) throw err;
      // Keep the frames before the bad spot: they were complete and well framed.
      const before = splitOctetCounted(data.subarray(0, err.offset), lineBytesMax);
      for (const f of before.frames) res.lines.push(decode(f));
      const badAt = err.offset - before.remainder.length;
      res.errors.push({ reason: `framing_${err.reason}`, raw: decode(data.subarray(badAt, badAt + lineBytesMax)) });
      res.fatal = true;
      dead = true;
      pending = Buffer.alloc(0);
    }
  };

  return {
    push(chunk) {
      const res = out();
      if (dead || chunk.length === 0) return res;
      const data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      if (mode === null) {
        const first = data[0]!;
        mode = first >= 0x31 && first <= 0x39 ? "octet" : "lf";
      }
      if (mode === "octet") pushOctet(data, res);
      else pushLf(data, res);
      return res;
    },
    end() {
      const res = out();
      if (dead || pending.length === 0) return res;
      if (mode === "lf") {
        if (!discarding) res.lines.push(decode(pending));
      } else {
        res.errors.push({ reason: "truncated_frame", raw: decode(pending) });
      }
      pending = Buffer.alloc(0);
      return res;
    },
    get mode() {
      return mode;
    },
    get bufferedBytes() {
      return pending.length;
    },
  };
}
