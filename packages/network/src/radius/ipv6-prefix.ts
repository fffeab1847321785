// The RADIUS "ipv6prefix" value (RFC 3162 2.3 Framed-IPv6-Prefix, RFC 4818 Delegated-IPv6-Prefix):
//   Reserved (1 octet, 0) | Prefix-Length (1 octet, 0..128) | Prefix (0..16 octets)
// Sent with only the octets the length covers (ceil(len / 8)), as FreeRADIUS does; bits
// beyond the length are zero. Text is "2400:abcd:12:3400::/56" (RFC 5952 form on output).

export class Ipv6PrefixError extends Error {}

/** 16 bytes of an IPv6 address in text form (with "::" and an optional dotted IPv4 tail); throws on anything else. */
export function parseIpv6(text: string): Buffer {
  const out = Buffer.alloc(16);
  const fail = (): never => {
    throw new Ipv6PrefixError(`"${text}" is not an IPv6 address`);
  };
  if (text.length < 2 || text.length > 45) fail();
  const halves = text.split("::");
  if (halves.length > 2) fail();
  const groups = (part: string): number[] => {
    if (part === "") return [];
    const items = part.split(":");
    const words: number[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (i === items.length - 1 && item.includes(".")) {
        const q = item.split(".");
        if (q.length !== 4) fail();
        const b = q.map((x) => (/^\d{1,3}$/.test(x) && Number(x) <= 255 ? Number(x) : fail()));
        words.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) fail();
        words.push(parseInt(item, 16));
      }
    }
    return words;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) fail();
  head.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  tail.forEach((w, i) => out.writeUInt16BE(w, (8 - tail.length + i) * 2));
  return out;
}

/** RFC 5952 text of 16 bytes: lower-case hex, no leading zeros, the longest run (2+) of zero groups as "::". */
export function formatIpv6(bytes: Buffer): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(bytes.readUInt16BE(i * 2));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (bestAt < 0) return hex(words);
  return `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLen))}`;
}

/** "addr/len" (len 0..128) to the attribute's value octets. Host bits must be zero. */
export function encodeIpv6Prefix(text: string): Buffer {
  const slash = text.indexOf("/");
  if (slash < 0) throw new Ipv6PrefixError(`"${text}" has no prefix length`);
  const lenText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > 128) throw new Ipv6PrefixError(`"${text}" has a bad prefix length`);
  const len = Number(lenText);
  const addr = parseIpv6(text.slice(0, slash));
  const n = Math.ceil(len / 8);
  for (let i = 0; i < 16; i++) {
    const keep = i < Math.floor(len / 8) ? 0xff : i === Math.floor(len / 8) ? (0xff << (8 - (len % 8))) & 0xff : 0;
    if ((addr[i]! & ~keep) !== 0) throw new Ipv6PrefixError(`"${text}" has bits set beyond /${len}`);
  }
  const out = Buffer.alloc(2 + n);
  out[1] = len;
  addr.copy(out, 2, 0, n);
  return out;
}

/** The attribute's value octets to "addr/len"; undefined when malformed. Bits beyond the length are ignored. */
export function decodeIpv6Prefix(value: Buffer): string | undefined {
  if (value.length < 2 || value.length > 18) return undefined;
  const len = value[1]!;
  if (len > 128 || value.length - 2 < Math.ceil(len / 8)) return undefined;
  const addr = Buffer.alloc(16);
  value.copy(addr, 0, 2, 2 + Math.ceil(len / 8));
  if (len % 8 !== 0) {
    const last = Math.floor(len / 8);
    addr[last] = addr[last]! & (0xff << (8 - (len % 8)));
  }
  return `${formatIpv6(addr)}/${len}`;
}
