import { describe, expect, it } from "vitest";
import { formatKbps, mikrotikRateLimit, parseMikrotikRateLimit, parseRateKbps } from "./rate-limit";

describe("mikrotikRateLimit", () => {
  it.each([
    [{ downloadKbps: 10240, uploadKbps: 2048 }, "2M/10M"],
    [{ downloadKbps: 1536, uploadKbps: 512 }, "512k/1536k"],
    [{ downloadKbps: 102400, uploadKbps: 102400 }, "100M/100M"],
    [{ downloadKbps: 1000, uploadKbps: 1024 }, "1M/1000k"],
    [{ downloadKbps: 0, uploadKbps: 0 }, "0/0"],
  ])("%o -> %s", (input, expected) => {
    expect(mikrotikRateLimit(input)).toBe(expected);
  });

  it("formats burst fields in rx/tx order", () => {
    expect(
      mikrotikRateLimit({
        downloadKbps: 10240,
        uploadKbps: 2048,
        burst: { downloadKbps: 20480, uploadKbps: 4096, thresholdDownloadKbps: 8192, thresholdUploadKbps: 1536, timeSeconds: 16 },
      }),
    ).toBe("2M/10M 4M/20M 1536k/8M 16/16");
  });

  it("rejects negative and fractional rates", () => {
    expect(() => formatKbps(-1)).toThrow(RangeError);
    expect(() => formatKbps(1.5)).toThrow(RangeError);
  });

  it("parses back rx/tx as upload/download", () => {
    expect(parseMikrotikRateLimit("2M/10M")).toEqual({ uploadKbps: 2048, downloadKbps: 10240 });
    expect(parseMikrotikRateLimit("512k/1536k 1M/2M 256k/512k 8/8")).toEqual({ uploadKbps: 512, downloadKbps: 1536 });
    expect(parseMikrotikRateLimit("4M")).toEqual({ uploadKbps: 4096, downloadKbps: 4096 });
    expect(parseMikrotikRateLimit("fast")).toBeUndefined();
    expect(parseRateKbps("64000")).toBe(64);
    expect(parseRateKbps("1G")).toBe(1048576);
  });
});
