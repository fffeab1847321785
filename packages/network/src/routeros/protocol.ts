// The MikroTik RouterOS API wire protocol (TCP 8728): a sentence is a list of words ended
// by an empty word; each word is its length (1-5 bytes, see encodeLength) then its bytes.
// Words are bytes on the wire; RouterOS itself is 8-bit clean, so we use latin1 both ways
// (a UTF-8 comment round-trips byte for byte through a real router too).

/** Wire-format violations and limit breaches; the only error the decoder throws. */
export class RosProtocolError extends Error {
  constructor(
    message: string,
    readonly code: "word-too-long" | "sentence-too-long" | "bad-length" | "buffer-overflow",
  ) {
    super(message);
    this.name = "RosProtocolError";
  }
}

/** Longest length the 5-byte form can carry (0xF0 + 4 bytes). */
export const WORD_LENGTH_MAX = 0xffffffff;

export function encodeLength(len: number): Buffer {
  if (!Number.isInteger(len) || len < 0 || len > WORD_LENGTH_MAX) throw new RangeError(`word length ${len} out of range`);
  if (len < 0x80) return Buffer.from([len]);
  if (len < 0x4000) {
    const v = len | 0x8000;
    return Buffer.from([(v >> 8) & 0xff, v & 0xff]);
  }
  if (len < 0x200000) {
    const v = len | 0xc00000;
    return Buffer.from([(v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff]);
  }
  if (len < 0x10000000) {
    const v = (len | 0xe0000000) >>> 0;
    return Buffer.from([(v >>> 24) & 0xff, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff]);
  }
  const b = Buffer.alloc(5);
  b[0] = 0xf0;
  b.writeUInt32BE(len, 1);
  return b;
}

/**
 * Reads a length at `offset`: [length, bytes used], or undefined when `buf` ends before
 * the length does. A first byte of 0xF8 or above is reserved for control bytes and invalid.
 */
export function decodeLength(buf: Buffer, offset = 0): [number, number] | undefined {
  const b0 = buf[offset];
  if (b0 === undefined) return undefined;
  let need: number;
  let value: number;
  if ((b0 & 0x80) === 0) return [b0, 1];
  if ((b0 & 0xc0) === 0x80) [need, value] = [2, b0 & 0x3f];
  else if ((b0 & 0xe0) === 0xc0) [need, value] = [3, b0 & 0x1f];
  else if ((b0 & 0xf0) === 0xe0) [need, value] = [4, b0 & 0x0f];
  else if (b0 === 0xf0) [need, value] = [5, 0];
  else throw new RosProtocolError(`invalid length prefix 0x${b0.toString(16)}`, "bad-length");
  if (buf.length - offset < need) return undefined;
  for (let i = 1; i < need; i++) value = value * 256 + buf[offset + i]!;
  return [value, need];
}

export function encodeWord(word: string | Buffer): Buffer {
  const body = typeof word === "string" ? Buffer.from(word, "latin1") : word;
  return Buffer.concat([encodeLength(body.length), body]);
}

/** The words, then the empty word that ends the sentence. */
export function encodeSentence(words: readonly string[]): Buffer {
  return Buffer.concat([...words.map((w) => encodeWord(w)), Buffer.from([0])]);
}

export interface DecoderLimits {
  /** Longest single word accepted. Default 64 KiB. */
  wordBytesMax?: number;
  /** Most words in one sentence. Default 1024. */
  sentenceWordsMax?: number;
  /** Most bytes in one sentence (lengths included). Default 1 MiB. */
  sentenceBytesMax?: number;
}

/**
 * Incremental decoder: push() TCP chunks split at any byte, get back complete sentences.
 * After it throws (a limit or an invalid length) the stream is out of sync: close the
 * connection rather than pushing more.
 */
export class SentenceDecoder {
  private readonly wordBytesMax: number;
  private readonly sentenceWordsMax: number;
  private readonly sentenceBytesMax: number;
  private pending: Buffer = Buffer.alloc(0);
  private words: string[] = [];
  private sentenceBytes = 0;

  constructor(limits: DecoderLimits = {}) {
    this.wordBytesMax = limits.wordBytesMax ?? 64 * 1024;
    this.sentenceWordsMax = limits.sentenceWordsMax ?? 1024;
    this.sentenceBytesMax = limits.sentenceBytesMax ?? 1024 * 1024;
  }

  /** Bytes held for an incomplete word. */
  get bufferedBytes(): number {
    return this.pending.length;
  }

  push(chunk: Buffer): string[][] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: string[][] = [];
    let off = 0;
    for (;;) {
      const len = decodeLength(this.pending, off);
      if (!len) break;
      const [wordLen, used] = len;
      if (wordLen > this.wordBytesMax) throw new RosProtocolError(`word of ${wordLen} bytes exceeds ${this.wordBytesMax}`, "word-too-long");
      if (this.sentenceBytes + used + wordLen > this.sentenceBytesMax) {
        throw new RosProtocolError(`sentence exceeds ${this.sentenceBytesMax} bytes`, "sentence-too-long");
      }
      if (this.pending.length - off - used < wordLen) break;
      const start = off + used;
      off = start + wordLen;
      this.sentenceBytes += used + wordLen;
      if (wordLen === 0) {
        // An empty sentence (a lone terminator) is keep-alive noise; real routers ignore it.
        if (this.words.length) out.push(this.words);
        this.words = [];
        this.sentenceBytes = 0;
        continue;
      }
      if (this.words.length >= this.sentenceWordsMax) throw new RosProtocolError(`sentence exceeds ${this.sentenceWordsMax} words`, "sentence-too-long");
      this.words.push(this.pending.toString("latin1", start, off));
    }
    this.pending = off === this.pending.length ? Buffer.alloc(0) : this.pending.subarray(off);
    // A partial word is bounded by the checks above; this guards an absurd length prefix
    // whose body never arrives from pinning memory beyond the sentence limit.
    if (this.pending.length > this.sentenceBytesMax + 5) throw new RosProtocolError("receive buffer overflow", "buffer-overflow");
    return out;
  }
}

export type ReplyType = "!re" | "!done" | "!trap" | "!fatal" | "!empty";

/** `=key=value` attribute words as an object; `.tag` and other words are skipped. */
export function attributesOf(words: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of words) {
    if (!w.startsWith("=")) continue;
    const eq = w.indexOf("=", 1);
    if (eq < 0) out[w.slice(1)] = "";
    else out[w.slice(1, eq)] = w.slice(eq + 1);
  }
  return out;
}

export function tagOf(words: readonly string[]): string | undefined {
  const w = words.find((x) => x.startsWith(".tag="));
  return w?.slice(5);
}
