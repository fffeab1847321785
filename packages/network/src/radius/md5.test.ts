import { createHash, createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { equalBytes, HmacMd5, hmacMd5Key, Md5 } from "./md5";

describe("md5 (pure TS)", () => {
  it("matches RFC 1321 test vectors", () => {
    const vectors: Array<[string, string]> = [
      ["", "d41d8cd98f00b204e9800998ecf8427e"],
      ["a", "0cc175b9c0f1b6a831c399e269772661"],
      ["abc", "900150983cd24fb0d6963f7d28e17f72"],
      ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
      ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
      ["12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a"],
    ];
    const md5 = new Md5();
    const out = Buffer.alloc(16);
    for (const [input, hex] of vectors) {
      md5.reset().update(Buffer.from(input)).digestInto(out, 0);
      expect(out.toString("hex")).toBe(hex);
    }
  });

  it("matches node:crypto on random inputs fed in random pieces", () => {
    const md5 = new Md5();
    const out = Buffer.alloc(20);
    for (let n = 0; n < 2000; n++) {
      const data = randomBytes(n % 300);
      md5.reset();
      let pos = 0;
      while (pos < data.length) {
        const end = Math.min(data.length, pos + 1 + Math.floor(Math.random() * 80));
        md5.update(data, pos, end);
        pos = end;
      }
      md5.digestInto(out, 2);
      expect(out.subarray(2, 18).toString("hex")).toBe(createHash("md5").update(data).digest("hex"));
    }
  });

  it("HMAC-MD5 matches node:crypto for short, 64-byte and long keys", () => {
    const h = new HmacMd5();
    const out = Buffer.alloc(16);
    for (let n = 0; n < 1000; n++) {
      const keyLen = [0, 1, 7, 16, 63, 64, 65, 100, 200][n % 9]!;
      const key = n % 2 ? randomBytes(keyLen).toString("hex").slice(0, keyLen) : randomBytes(keyLen);
      const data = randomBytes(Math.floor(Math.random() * 400));
      const cut = Math.floor(Math.random() * (data.length + 1));
      h.begin(hmacMd5Key(key)).update(data, 0, cut).update(data, cut).digestInto(out, 0);
      expect(out.toString("hex")).toBe(createHmac("md5", key).update(data).digest("hex"));
    }
  });

  it("RFC 2104 test vector", () => {
    const out = Buffer.alloc(16);
    new HmacMd5().begin(hmacMd5Key("Jefe")).update(Buffer.from("what do ya want for nothing?")).digestInto(out, 0);
    expect(out.toString("hex")).toBe("750c783e6ab0b503eaa86e310a5db738");
  });

  it("equalBytes compares ranges", () => {
    const a = Buffer.from("xxabcdyy");
    const b = Buffer.from("abcd");
    expect(equalBytes(a, 2, b, 0, 4)).toBe(true);
    expect(equalBytes(a, 1, b, 0, 4)).toBe(false);
  });
});
