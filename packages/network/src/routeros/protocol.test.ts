import { describe, expect, it } from "vitest";
import { attributesOf, decodeLength, encodeLength, encodeSentence, encodeWord, RosProtocolError, SentenceDecoder, tagOf } from "./protocol";

// Byte forms from the MikroTik API documentation's length table.
const BOUNDARIES: Array<[number, number[]]> = [
  [0, [0x00]],
  [1, [0x01]],
  [0x7f, [0x7f]],
  [0x80, [0x80, 0x80]],
  [0x3fff, [0xbf, 0xff]],
  [0x4000, [0xc0, 0x40, 0x00]],
  [0x1fffff, [0xdf, 0xff, 0xff]],
  [0x200000, [0xe0, 0x20, 0x00, 0x00]],
  [0xfffffff, [0xef, 0xff, 0xff, 0xff]],
  [0x10000000, [0xf0, 0x10, 0x00, 0x00, 0x00]],
  [0xffffffff, [0xf0, 0xff, 0xff, 0xff, 0xff]],
];

function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("length encoding", () => {
  it.each(BOUNDARIES)("%i encodes as the documented bytes and decodes back", (len, bytes) => {
    expect([...encodeLength(len)]).toEqual(bytes);
    expect(decodeLength(Buffer.from(bytes))).toEqual([len, bytes.length]);
    // One byte short of the full length form: not decodable yet, not an error.
    if (bytes.length > 1) expect(decodeLength(Buffer.from(bytes.slice(0, -1)))).toBeUndefined();
  });

  it("rejects reserved prefixes and out-of-range lengths", () => {
    for (const b of [0xf1, 0xf8, 0xff]) expect(() => decodeLength(Buffer.from([b, 0, 0, 0, 0]))).toThrow(RosProtocolError);
    expect(() => encodeLength(-1)).toThrow(RangeError);
    expect(() => encodeLength(2 ** 32)).toThrow(RangeError);
  });

  it("words of boundary sizes round-trip through the decoder", () => {
    const dec = new SentenceDecoder({ wordBytesMax: 0x4001, sentenceBytesMax: 0x10000 });
    for (const n of [1, 0x7f, 0x80, 0x3fff, 0x4000]) {
      const word = "x".repeat(n);
      expect(dec.push(encodeSentence([word]))).toEqual([[word]]);
    }
  });
});

describe("SentenceDecoder", () => {
  const sentences = [
    ["/login", "=name=admin", "=password=p\u00e4ss"],
    ["!re", "=.id=*1", "=comment=" + "c".repeat(300), ".tag=7"],
    ["!done", ".tag=7"],
  ];
  const stream = Buffer.concat(sentences.map((s) => encodeSentence(s)));

  it("reassembles sentences split at every byte position", () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const dec = new SentenceDecoder();
      const got = [...dec.push(stream.subarray(0, cut)), ...dec.push(stream.subarray(cut))];
      expect(got).toEqual(sentences);
      expect(dec.bufferedBytes).toBe(0);
    }
  });

  it("reassembles a stream fed one byte at a time", () => {
    const dec = new SentenceDecoder();
    const got: string[][] = [];
    for (const b of stream) got.push(...dec.push(Buffer.from([b])));
    expect(got).toEqual(sentences);
  });

  it("skips empty sentences", () => {
    const dec = new SentenceDecoder();
    expect(dec.push(Buffer.concat([Buffer.from([0, 0]), encodeSentence(["/quit"])]))).toEqual([["/quit"]]);
  });

  it("enforces word, word-count and sentence-size limits with a typed error", () => {
    expect(() => new SentenceDecoder({ wordBytesMax: 10 }).push(encodeWord("x".repeat(11)))).toThrow(/exceeds 10/);
    // The limit applies from the length prefix alone, before the body arrives.
    expect(() => new SentenceDecoder({ wordBytesMax: 10 }).push(encodeLength(1_000_000))).toThrow(RosProtocolError);
    expect(() => new SentenceDecoder({ sentenceWordsMax: 2 }).push(encodeSentence(["a", "b", "c"]))).toThrow(/words/);
    expect(() => new SentenceDecoder({ sentenceBytesMax: 20 }).push(encodeSentence(["a".repeat(10), "b".repeat(10)]))).toThrow(/bytes/);
  });

  it("never throws anything but RosProtocolError on random or truncated input", () => {
    const rnd = mulberry(42);
    for (let round = 0; round < 2000; round++) {
      const dec = new SentenceDecoder({ wordBytesMax: 4096, sentenceWordsMax: 64, sentenceBytesMax: 16 * 1024 });
      let input: Buffer;
      if (round % 2 === 0) {
        input = Buffer.from(Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256)));
      } else {
        // A valid stream, truncated and with a byte flipped.
        const valid = Buffer.from(stream);
        const i = Math.floor(rnd() * valid.length);
        valid[i] = Math.floor(rnd() * 256);
        input = valid.subarray(0, Math.floor(rnd() * valid.length));
      }
      try {
        let off = 0;
        while (off < input.length) {
          const n = 1 + Math.floor(rnd() * 16);
          for (const s of dec.push(input.subarray(off, off + n))) expect(s.length).toBeGreaterThan(0);
          off += n;
        }
      } catch (err) {
        expect(err).toBeInstanceOf(RosProtocolError);
      }
    }
  });
});

describe("helpers", () => {
  it("reads attributes and the tag", () => {
    const words = ["!re", "=name=a=b", "=empty=", ".tag=x1", "?skipped"];
    expect(attributesOf(words)).toEqual({ name: "a=b", empty: "" });
    expect(tagOf(words)).toBe("x1");
  });
});
