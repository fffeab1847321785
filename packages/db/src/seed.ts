// Deterministic demo ISP: routers, plans, dealers, operators and N subscribers with
// Pakistani names, phones, CNICs and addresses. Same input, same rows, every time.
import bcrypt from "bcryptjs";
import type { Prisma, PrismaClient } from "./generated/prisma/client";
import { encryptSecret, type SecretsKeys } from "./secrets";

export const DEMO_RADIUS_SECRET = "demo-secret-2026";
export const DEMO_NAS = { ip: "127.0.0.1", secret: DEMO_RADIUS_SECRET } as const;
/** ACC-100001: always active, on the Basic plan, with these PPPoE credentials. */
export const DEMO_SUBSCRIBER = { accountNo: "ACC-100001", username: "ahmed.khan", password: "Karachi-2026" } as const;
export const DEMO_OPERATOR_PASSWORD = "demo1234";
export const DEMO_OPERATORS = [
  { username: "admin", name: "Imran Qureshi", role: "admin" },
  { username: "noc", name: "Bilal Siddiqui", role: "noc" },
  { username: "support", name: "Sana Javed", role: "support" },
  { username: "manager", name: "Farhan Malik", role: "manager" },
  { username: "dealer", name: "Adnan Shah", role: "dealer" },
  { username: "compliance", name: "Ayesha Rauf", role: "compliance" },
].map((o) => ({ ...o, password: DEMO_OPERATOR_PASSWORD })) as readonly {
  username: string;
  name: string;
  role: "admin" | "noc" | "support" | "manager" | "dealer" | "compliance";
  password: string;
}[];

export const defaultSubscriberCount = 2000;
/** Rows per createMany statement: keeps bind parameters (16 columns) far below 65,535. */
export const seedRowsPerInsert = 1000;
const bcryptCost = 10;
const prngSeed = 0x15b2026;

/** mulberry32: tiny, fast, and enough for plausible demo data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const maleNames = ["Ahmed", "Muhammad", "Ali", "Hassan", "Usman", "Bilal", "Hamza", "Zain", "Fahad", "Imran", "Kashif", "Asad", "Danish", "Faisal", "Junaid", "Saad", "Tariq", "Waqas", "Yasir", "Omer", "Shahid", "Nadeem", "Rizwan", "Adeel", "Arslan", "Haris", "Salman", "Taimoor", "Umair", "Zubair"];
const femaleNames = ["Ayesha", "Fatima", "Sana", "Hira", "Maryam", "Zainab", "Amna", "Iqra", "Mahnoor", "Sadia", "Nida", "Rabia", "Saima", "Sidra", "Uzma", "Kiran", "Mehwish", "Noor", "Bushra", "Farah", "Huma", "Lubna", "Asma", "Javeria", "Anum"];
const lastNames = ["Khan", "Ahmed", "Ali", "Hussain", "Malik", "Qureshi", "Siddiqui", "Sheikh", "Chaudhry", "Butt", "Raza", "Shah", "Javed", "Iqbal", "Mirza", "Abbasi", "Rana", "Baig", "Awan", "Bhatti", "Cheema", "Gill", "Hashmi", "Jamil", "Niazi", "Paracha", "Rizvi", "Sadiq", "Tahir", "Zaidi", "Memon", "Baloch", "Khattak", "Yousafzai", "Farooqi"];
const cities: { city: string; weight: number; areas: string[] }[] = [
  { city: "Karachi", weight: 35, areas: ["Gulshan-e-Iqbal", "DHA Phase 6", "North Nazimabad", "Clifton", "PECHS", "Gulistan-e-Jauhar", "Malir Cantt", "Federal B Area"] },
  { city: "Lahore", weight: 30, areas: ["Gulberg III", "Johar Town", "Model Town", "DHA Phase 5", "Iqbal Town", "Wapda Town", "Bahria Town", "Garden Town"] },
  { city: "Islamabad", weight: 15, areas: ["F-10/2", "G-11/3", "I-8/4", "E-11/1", "G-9/1", "F-7/3", "Bahria Enclave"] },
  { city: "Rawalpindi", weight: 10, areas: ["Satellite Town", "Bahria Town Phase 7", "Westridge", "Chaklala Scheme 3", "Saddar"] },
  { city: "Faisalabad", weight: 10, areas: ["Peoples Colony", "Madina Town", "Susan Road", "D Ground", "Gulberg"] },
];
const phonePrefixes = ["0300", "0301", "0302", "0303", "0310", "0312", "0313", "0320", "0321", "0322", "0331", "0333", "0335", "0340", "0345", "0346"];

export const DEMO_ROUTERS = [
  { name: "KHI-BNG-01", ipAddress: "127.0.0.1", vendor: "mikrotik", location: "Karachi" },
  { name: "LHE-BNG-01", ipAddress: "127.0.0.2", vendor: "mikrotik", location: "Lahore" },
  { name: "ISB-BNG-01", ipAddress: "127.0.0.3", vendor: "cisco", location: "Islamabad" },
] as const;

export const DEMO_PLANS = [
  { code: "BASIC-8", name: "Basic 8 Mbps", downloadKbps: 8192, uploadKbps: 2048, pricePaisa: 150_000, weight: 30 },
  { code: "HOME-15", name: "Home 15 Mbps", downloadKbps: 15360, uploadKbps: 4096, pricePaisa: 220_000, weight: 35 },
  { code: "FAMILY-30", name: "Family 30 Mbps", downloadKbps: 30720, uploadKbps: 8192, pricePaisa: 350_000, weight: 25 },
  { code: "BUSINESS-50", name: "Business 50 Mbps", downloadKbps: 51200, uploadKbps: 20480, pricePaisa: 650_000, weight: 10 },
] as const;

const DEMO_DEALERS = [
  { code: "DLR-KHI-01", name: "Saddar Net Services", phone: "0321-2345678", city: "Karachi" },
  { code: "DLR-LHE-01", name: "Gulberg Broadband Point", phone: "0300-4567890", city: "Lahore" },
] as const;

function pick<T>(rand: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)] as T;
}
function weighted<T extends { weight: number }>(rand: () => number, xs: readonly T[]): T {
  const total = xs.reduce((s, x) => s + x.weight, 0);
  let r = rand() * total;
  for (const x of xs) {
    r -= x.weight;
    if (r < 0) return x;
  }
  return xs[xs.length - 1] as T;
}
const digits = (rand: () => number, n: number): string =>
  Array.from({ length: n }, () => Math.floor(rand() * 10)).join("");

const passwordAlphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

export interface DemoSubscriber {
  accountNo: string;
  name: string;
  phone: string;
  cnic: string;
  address: string;
  city: string;
  dealerIndex: number | null;
  planIndex: number;
  status: "active" | "suspended" | "pending";
  pppoeUsername: string;
  pppoePassword: string;
  staticIp: string | null;
}

/** Pure generator (no database): the same count always yields the same subscribers. */
export function generateSubscribers(count: number): DemoSubscriber[] {
  const rand = prng(prngSeed);
  const usernames = new Set<string>();
  const out: DemoSubscriber[] = [];
  for (let i = 0; i < count; i++) {
    const female = rand() < 0.35;
    const first = pick(rand, female ? femaleNames : maleNames);
    const last = pick(rand, lastNames);
    const place = weighted(rand, cities);
    const area = pick(rand, place.areas);
    const address = `House ${1 + Math.floor(rand() * 400)}, Street ${1 + Math.floor(rand() * 40)}, Block ${pick(rand, ["A", "B", "C", "D", "E", "F", "H", "J", "K", "L"])}, ${area}, ${place.city}`;
    // CNIC's last digit is odd for men and even for women.
    const sexDigit = female ? pick(rand, [0, 2, 4, 6, 8]) : pick(rand, [1, 3, 5, 7, 9]);
    const cnic = `${3 + Math.floor(rand() * 5)}${digits(rand, 4)}-${digits(rand, 7)}-${sexDigit}`;
    const phone = `${pick(rand, phonePrefixes)}-${digits(rand, 7)}`;
    const base = `${first}.${last}`.toLowerCase();
    let username = `${base}${digits(rand, 2)}`;
    while (usernames.has(username)) username = `${base}${digits(rand, 4)}`;
    const password = Array.from({ length: 10 }, () => pick(rand, [...passwordAlphabet])).join("");
    const statusRoll = rand();
    const dealerRoll = rand();
    const plan = weighted(rand, DEMO_PLANS);
    const sub: DemoSubscriber = {
      accountNo: `ACC-${100001 + i}`,
      name: `${first} ${last}`,
      phone,
      cnic,
      address,
      city: place.city,
      dealerIndex: dealerRoll < 0.3 ? 0 : dealerRoll < 0.55 ? 1 : null,
      planIndex: DEMO_PLANS.indexOf(plan),
      status: statusRoll < 0.04 ? "suspended" : statusRoll < 0.05 ? "pending" : "active",
      pppoeUsername: username,
      pppoePassword: password,
      // 250 addresses per /24 from 10.50.0.0; past 64,000 subscribers into 10.51.x (the 100k bench).
      staticIp: i > 0 && i % 97 === 0 ? `10.${50 + Math.floor(i / 64_000)}.${Math.floor(i / 250) % 256}.${(i % 250) + 2}` : null,
    };
    if (i === 0) {
      Object.assign(sub, {
        name: "Ahmed Khan",
        city: "Karachi",
        address: "House 12, Street 4, Block 13-D, Gulshan-e-Iqbal, Karachi",
        dealerIndex: 0,
        planIndex: 0,
        status: "active",
        pppoeUsername: DEMO_SUBSCRIBER.username,
        pppoePassword: DEMO_SUBSCRIBER.password,
      });
    }
    usernames.add(sub.pppoeUsername);
    out.push(sub);
  }
  return out;
}

/** Locks concurrent seeders out of each other (pg_advisory_xact_lock key). */
const seedLockKey = 0x5eed;

export async function seed(
  prisma: PrismaClient,
  /**
   * secretsKey: encrypt PPPoE passwords with it (the collector's SECRETS_KEY, or its keyring:
   * the current key encrypts). Without it
   * they go to the legacy plain-text column, which the collector encrypts with its own
   * key at start; so a seed that cannot see the key still never leaves them plain for long.
   */
  opts: { subscribers?: number; secretsKey?: SecretsKeys } = {},
): Promise<{ seeded: boolean; subscribers: number }> {
  const count = opts.subscribers ?? defaultSubscriberCount;
  const passwordHash = await bcrypt.hash(DEMO_OPERATOR_PASSWORD, bcryptCost);
  const subs = generateSubscribers(count);
  const key = opts.secretsKey;
  return prisma.$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${seedLockKey})`;
      if ((await tx.plan.count()) > 0 || (await tx.operator.count()) > 0) {
        return { seeded: false, subscribers: await tx.subscriber.count() };
      }
      await tx.router.createMany({
        data: DEMO_ROUTERS.map((r) => ({ ...r, radiusSecret: DEMO_RADIUS_SECRET, coaPort: 3799, requireMessageAuthenticator: true })),
      });
      await tx.plan.createMany({ data: DEMO_PLANS.map(({ weight: _w, ...p }) => ({ ...p, currency: "PKR" })) });
      await tx.dealer.createMany({ data: [...DEMO_DEALERS] });
      const plans = await tx.plan.findMany({ orderBy: { id: "asc" }, select: { id: true, code: true } });
      const dealers = await tx.dealer.findMany({ orderBy: { id: "asc" }, select: { id: true, code: true } });
      const planId = (i: number): number => plans.find((p) => p.code === DEMO_PLANS[i]?.code)?.id ?? 0;
      const dealerId = (i: number | null): number | null =>
        i === null ? null : (dealers.find((d) => d.code === DEMO_DEALERS[i]?.code)?.id ?? null);
      await tx.operator.createMany({
        data: DEMO_OPERATORS.map((o) => ({
          username: o.username,
          name: o.name,
          role: o.role,
          passwordHash,
          dealerId: o.role === "dealer" ? dealerId(0) : null,
        })),
      });
      for (let start = 0; start < subs.length; start += seedRowsPerInsert) {
        const data: Prisma.SubscriberCreateManyInput[] = subs.slice(start, start + seedRowsPerInsert).map((s) => ({
          accountNo: s.accountNo,
          name: s.name,
          phone: s.phone,
          cnic: s.cnic,
          address: s.address,
          city: s.city,
          dealerId: dealerId(s.dealerIndex),
          planId: planId(s.planIndex),
          status: s.status,
          pppoeUsername: s.pppoeUsername,
          ...(key ? { pppoePasswordEnc: encryptSecret(key, s.pppoePassword) } : { pppoePassword: s.pppoePassword }),
          staticIp: s.staticIp,
        }));
        await tx.subscriber.createMany({ data });
      }
      return { seeded: true, subscribers: subs.length };
    },
    // 100,000 subscribers (the RADIUS bench) take minutes on a busy 2-core machine.
    { timeout: 120_000 + count * 5, maxWait: 10_000 },
  );
}
