// IPv6 addresses and prefixes as officers type them (compressed or not, upper or lower
// case, an embedded dotted IPv4 tail, in brackets), reduced to one canonical spelling
// (RFC 5952) so the audit log, the CSV and the signed report name the same thing. Pure.

/** Shortest prefix a compliance lookup accepts: anything wider is no subscriber's (an ISP holds a /32 or so). */
export const ipv6LookupPrefixMin = 16;

/** The eight 16-bit groups of an IPv6 address, or null when `text` is not one (no zone, no brackets, no prefix). */
export function parseIpv6(text: string): number[] | null {
  if (text.length === 0 || text.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(text)) return null;
  let body = text;
  const tail: number[] = [];
  // An IPv4 tail ("::ffff:192.0.2.1", "64:ff9b::192.0.2.1") is the last two groups.
  const dotted = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (dotted) {
    const octets = dotted.slice(2, 6).map(Number);
    if (octets.some((o, i) => o > 255 || (dotted[i + 2]!.length > 1 && dotted[i + 2]!.startsWith("0")))) return null;
    tail.push((octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!);
    body = dotted[1]!.endsWith("::") ? dotted[1]! : dotted[1]!.slice(0, -1);
  } else if (text.includes(".")) {
    return null;
  }
  const halves = body.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    for (const g of part.split(":")) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0]!);
  if (!head) return null;
  if (halves.length === 1) {
    const all = [...head, ...tail];
    return all.length === 8 ? all : null;
  }
  const rest = groups(halves[1]!);
  if (!rest) return null;
  const known = head.length + rest.length + tail.length;
  // "::" stands for at least one group of zeros.
  if (known > 7) return null;
  return [...head, ...new Array<number>(8 - known).fill(0), ...rest, ...tail];
}

/** RFC 5952: lower case, no leading zeros, the longest run of two or more zero groups (the first on a tie) as "::". */
export function formatIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/** The first `length` bits of the address kept, the rest zero. */
export function maskIpv6(groups: readonly number[], length: number): number[] {
  return groups.map((g, i) => {
    const bits = Math.max(0, Math.min(16, length - i * 16));
    return bits === 0 ? 0 : g & ((0xffff << (16 - bits)) & 0xffff);
  });
}

export type Ipv6Target =
  | { ok: true; /** canonical: "2400:abcd:12:3401::10" or "2400:abcd:12:3400::/56" */ text: string; prefixLength: number | null }
  | { ok: false; reason: string };

/**
 * What a lawful request names: one IPv6 address or an IPv6 prefix. Accepts any textual
 * form (compressed, full, mixed case, IPv4 tail), strips surrounding brackets ("[2400::1]"),
 * refuses zone indexes (link-local scope, never a public address), turns a prefix with
 * host bits into its network ("2400:abcd:12:3401::/56" -> "2400:abcd:12:3400::/56") and a
 * /128 into the address.
 */
export function parseIpv6Target(input: string): Ipv6Target {
  let t = input.trim();
  if (t.startsWith("[") && t.endsWith("]")) t = t.slice(1, -1).trim();
  if (t.includes("%")) return { ok: false, reason: "Leave out the zone (%…): a public IPv6 address has none" };
  const slash = t.indexOf("/");
  const addressText = slash >= 0 ? t.slice(0, slash) : t;
  const groups = parseIpv6(addressText);
  if (!groups) return { ok: false, reason: "Enter a valid IPv6 address or prefix" };
  if (slash < 0) return { ok: true, text: formatIpv6(groups), prefixLength: null };
  const lenText = t.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > 128) return { ok: false, reason: "An IPv6 prefix length is 0 to 128" };
  const length = Number(lenText);
  if (length < ipv6LookupPrefixMin) return { ok: false, reason: `An IPv6 prefix to look up must be /${ipv6LookupPrefixMin} or longer` };
  if (length === 128) return { ok: true, text: formatIpv6(groups), prefixLength: null };
  return { ok: true, text: `${formatIpv6(maskIpv6(groups, length))}/${length}`, prefixLength: length };
}

/** IPv4 never contains a colon: anything typed with one is an IPv6 question (no NAT, no port). */
export function looksLikeIpv6(input: string): boolean {
  return input.includes(":");
}
