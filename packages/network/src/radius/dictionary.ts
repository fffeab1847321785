// RADIUS attribute dictionary: standard attributes (RFC 2865/2866/2869/3162/5176) and the
// vendor-specific attributes routers in our market send or accept (MikroTik, Cisco,
// Juniper/ERX). Everything else in the package refers to attributes by these names.

/** ipv6prefix: RFC 3162 2.3 (reserved octet, prefix length, prefix octets), text "2400:abcd::/56". */
export type AttributeType = "string" | "octets" | "ipaddr" | "integer" | "date" | "integer64" | "ipv6prefix";

export interface AttributeDef {
  readonly name: string;
  /** Attribute type (standard) or vendor-type (VSA). */
  readonly code: number;
  /** 0 for standard attributes. */
  readonly vendorId: number;
  readonly type: AttributeType;
  /** Named integer values (enumerations). */
  readonly values?: Readonly<Record<string, number>>;
}

export const VendorId = {
  Cisco: 9,
  ERX: 4874,
  Mikrotik: 14988,
  Microsoft: 311,
} as const;

/** Attribute type 26 carries vendor-specific attributes (RFC 2865 5.26). */
export const VENDOR_SPECIFIC_TYPE = 26;

const serviceType = {
  "Login-User": 1,
  "Framed-User": 2,
  "Callback-Login-User": 3,
  "Callback-Framed-User": 4,
  "Outbound-User": 5,
  "Administrative-User": 6,
  "NAS-Prompt-User": 7,
  "Authenticate-Only": 8,
  "Callback-NAS-Prompt": 9,
  "Call-Check": 10,
  "Callback-Administrative": 11,
  "Authorize-Only": 17,
} as const;

const framedProtocol = { PPP: 1, SLIP: 2, ARAP: 3, "Gandalf-SLML": 4, "Xylogics-IPX-SLIP": 5, "X.75-Synchronous": 6 } as const;

const nasPortType = {
  Async: 0,
  Sync: 1,
  "ISDN-Sync": 2,
  "ISDN-Async-V120": 3,
  "ISDN-Async-V110": 4,
  Virtual: 5,
  PIAFS: 6,
  "HDLC-Clear-Channel": 7,
  "X.25": 8,
  "X.75": 9,
  "G.3-Fax": 10,
  SDSL: 11,
  "ADSL-CAP": 12,
  "ADSL-DMT": 13,
  IDSL: 14,
  Ethernet: 15,
  xDSL: 16,
  Cable: 17,
  "Wireless-Other": 18,
  "Wireless-802.11": 19,
} as const;

const acctStatusType = {
  Start: 1,
  Stop: 2,
  "Interim-Update": 3,
  "Accounting-On": 7,
  "Accounting-Off": 8,
  Failed: 15,
} as const;

const acctTerminateCause = {
  "User-Request": 1,
  "Lost-Carrier": 2,
  "Lost-Service": 3,
  "Idle-Timeout": 4,
  "Session-Timeout": 5,
  "Admin-Reset": 6,
  "Admin-Reboot": 7,
  "Port-Error": 8,
  "NAS-Error": 9,
  "NAS-Request": 10,
  "NAS-Reboot": 11,
  "Port-Unneeded": 12,
  "Port-Preempted": 13,
  "Port-Suspended": 14,
  "Service-Unavailable": 15,
  Callback: 16,
  "User-Error": 17,
  "Host-Request": 18,
} as const;

const acctAuthentic = { RADIUS: 1, Local: 2, Remote: 3, Diameter: 4 } as const;

// RFC 5176 3.5.
const errorCause = {
  "Residual-Session-Context-Removed": 201,
  "Invalid-EAP-Packet": 202,
  "Unsupported-Attribute": 401,
  "Missing-Attribute": 402,
  "NAS-Identification-Mismatch": 403,
  "Invalid-Request": 404,
  "Unsupported-Service": 405,
  "Unsupported-Extension": 406,
  "Invalid-Attribute-Value": 407,
  "Administratively-Prohibited": 501,
  "Request-Not-Routable": 502,
  "Session-Context-Not-Found": 503,
  "Session-Context-Not-Removable": 504,
  "Other-Proxy-Processing-Error": 505,
  "Resources-Unavailable": 506,
  "Request-Initiated": 507,
  "Multiple-Session-Selection-Unsupported": 508,
} as const;

function std(name: string, code: number, type: AttributeType, values?: Record<string, number>): AttributeDef {
  return values ? { name, code, vendorId: 0, type, values } : { name, code, vendorId: 0, type };
}
function vsa(vendorId: number, name: string, code: number, type: AttributeType, values?: Record<string, number>): AttributeDef {
  return values ? { name, code, vendorId, type, values } : { name, code, vendorId, type };
}

export const ATTRIBUTES: readonly AttributeDef[] = [
  // RFC 2865
  std("User-Name", 1, "string"),
  std("User-Password", 2, "octets"),
  std("CHAP-Password", 3, "octets"),
  std("NAS-IP-Address", 4, "ipaddr"),
  std("NAS-Port", 5, "integer"),
  std("Service-Type", 6, "integer", serviceType),
  std("Framed-Protocol", 7, "integer", framedProtocol),
  std("Framed-IP-Address", 8, "ipaddr"),
  std("Framed-IP-Netmask", 9, "ipaddr"),
  std("Framed-Routing", 10, "integer", { None: 0, Broadcast: 1, Listen: 2, "Broadcast-Listen": 3 }),
  std("Filter-Id", 11, "string"),
  std("Framed-MTU", 12, "integer"),
  std("Framed-Compression", 13, "integer", { None: 0, "Van-Jacobson-TCP-IP": 1, "IPX-Header-Compression": 2, "Stac-LZS": 3 }),
  std("Login-IP-Host", 14, "ipaddr"),
  std("Login-Service", 15, "integer", { Telnet: 0, Rlogin: 1, "TCP-Clear": 2, PortMaster: 3, LAT: 4, X25_PAD: 5, X25_T3POS: 6, "TCP-Clear-Quiet": 8 }),
  std("Login-TCP-Port", 16, "integer"),
  std("Reply-Message", 18, "string"),
  std("Callback-Number", 19, "string"),
  std("Callback-Id", 20, "string"),
  std("Framed-Route", 22, "string"),
  std("Framed-IPX-Network", 23, "ipaddr"),
  std("State", 24, "octets"),
  std("Class", 25, "octets"),
  std("Vendor-Specific", VENDOR_SPECIFIC_TYPE, "octets"),
  std("Session-Timeout", 27, "integer"),
  std("Idle-Timeout", 28, "integer"),
  std("Termination-Action", 29, "integer", { Default: 0, "RADIUS-Request": 1 }),
  std("Called-Station-Id", 30, "string"),
  std("Calling-Station-Id", 31, "string"),
  std("NAS-Identifier", 32, "string"),
  std("Proxy-State", 33, "octets"),
  std("Login-LAT-Service", 34, "string"),
  std("Login-LAT-Node", 35, "string"),
  std("Login-LAT-Group", 36, "octets"),
  std("Framed-AppleTalk-Link", 37, "integer"),
  std("Framed-AppleTalk-Network", 38, "integer"),
  std("Framed-AppleTalk-Zone", 39, "string"),
  // RFC 2866
  std("Acct-Status-Type", 40, "integer", acctStatusType),
  std("Acct-Delay-Time", 41, "integer"),
  std("Acct-Input-Octets", 42, "integer"),
  std("Acct-Output-Octets", 43, "integer"),
  std("Acct-Session-Id", 44, "string"),
  std("Acct-Authentic", 45, "integer", acctAuthentic),
  std("Acct-Session-Time", 46, "integer"),
  std("Acct-Input-Packets", 47, "integer"),
  std("Acct-Output-Packets", 48, "integer"),
  std("Acct-Terminate-Cause", 49, "integer", acctTerminateCause),
  std("Acct-Multi-Session-Id", 50, "string"),
  std("Acct-Link-Count", 51, "integer"),
  // RFC 2869
  std("Acct-Input-Gigawords", 52, "integer"),
  std("Acct-Output-Gigawords", 53, "integer"),
  std("Event-Timestamp", 55, "date"),
  std("CHAP-Challenge", 60, "octets"),
  std("NAS-Port-Type", 61, "integer", nasPortType),
  std("Port-Limit", 62, "integer"),
  std("Login-LAT-Port", 63, "string"),
  std("Tunnel-Type", 64, "integer"),
  std("Tunnel-Medium-Type", 65, "integer"),
  std("ARAP-Password", 70, "octets"),
  std("ARAP-Features", 71, "octets"),
  std("ARAP-Zone-Access", 72, "integer"),
  std("ARAP-Security", 73, "integer"),
  std("ARAP-Security-Data", 74, "string"),
  std("Password-Retry", 75, "integer"),
  std("Prompt", 76, "integer"),
  std("Connect-Info", 77, "string"),
  std("Configuration-Token", 78, "string"),
  std("EAP-Message", 79, "octets"),
  std("Message-Authenticator", 80, "octets"),
  std("ARAP-Challenge-Response", 84, "octets"),
  std("Acct-Interim-Interval", 85, "integer"),
  std("NAS-Port-Id", 87, "string"),
  std("Framed-Pool", 88, "string"),
  std("Chargeable-User-Identity", 89, "octets"),
  // RFC 3162 (IPv6)
  std("NAS-IPv6-Address", 95, "octets"),
  std("Framed-Interface-Id", 96, "octets"),
  std("Framed-IPv6-Prefix", 97, "ipv6prefix"),
  std("Framed-IPv6-Pool", 100, "string"),
  // RFC 5176
  std("Error-Cause", 101, "integer", errorCause),
  std("Delegated-IPv6-Prefix", 123, "ipv6prefix"),

  // MikroTik (RouterOS dictionary)
  vsa(VendorId.Mikrotik, "Mikrotik-Recv-Limit", 1, "integer"),
  vsa(VendorId.Mikrotik, "Mikrotik-Xmit-Limit", 2, "integer"),
  vsa(VendorId.Mikrotik, "Mikrotik-Group", 3, "string"),
  vsa(VendorId.Mikrotik, "Mikrotik-Wireless-Forward", 4, "integer"),
  vsa(VendorId.Mikrotik, "Mikrotik-Wireless-Skip-Dot1x", 5, "integer"),
  vsa(VendorId.Mikrotik, "Mikrotik-Wireless-Enc-Algo", 6, "integer"),
  vsa(VendorId.Mikrotik, "Mikrotik-Wireless-Enc-Key", 7, "string"),
  vsa(VendorId.Mikrotik, "Mikrotik-Rate-Limit", 8, "string"),
  vsa(VendorId.Mikrotik, "Mikrotik-Realm", 9, "string"),
  vsa(VendorId.Mikrotik, "Mikrotik-Host-IP", 10, "ipaddr"),
  vsa(VendorId.Mikrotik, "Mikrotik-Mark-Id", 11, "string"),
  vsa(VendorId.Mikrotik, "Mikrotik-Advertise-URL", 12, "string"),
  vsa(VendorId.Mikrotik, "Mikrotik-Advertise-Interval", 13, "integer"),
  vsa(VendorId.Mikrotik, "Mikrotik-Recv-Limit-Gigawords", 14, "integer"),
  vsa(VendorId.Mikrotik, "Mikrotik-Xmit-Limit-Gigawords", 15, "integer"),
  vsa(VendorId.Mikrotik, "Mikrotik-Wireless-PSK", 16, "string"),
  vsa(VendorId.Mikrotik, "Mikrotik-Total-Limit", 17, "integer"),
  vsa(VendorId.Mikrotik, "Mikrotik-Total-Limit-Gigawords", 18, "integer"),
  vsa(VendorId.Mikrotik, "Mikrotik-Address-List", 19, "string"),
  vsa(VendorId.Mikrotik, "Mikrotik-Wireless-MPKey", 20, "string"),
  vsa(VendorId.Mikrotik, "Mikrotik-Wireless-Comment", 21, "string"),
  vsa(VendorId.Mikrotik, "Mikrotik-Delegated-IPv6-Pool", 22, "string"),
  vsa(VendorId.Mikrotik, "Mikrotik-DHCP-Option-Set", 23, "string"),
  vsa(VendorId.Mikrotik, "Mikrotik-DHCP-Option-Param-STR1", 24, "string"),
  vsa(VendorId.Mikrotik, "Mikrotik-DHCP-Option-Param-STR2", 25, "string"),
  vsa(VendorId.Mikrotik, "Mikrotik-Wireless-VLANID", 26, "integer"),
  vsa(VendorId.Mikrotik, "Mikrotik-Wireless-VLANID-Type", 27, "integer"),
  vsa(VendorId.Mikrotik, "Mikrotik-Wireless-Minsignal", 28, "string"),
  vsa(VendorId.Mikrotik, "Mikrotik-Wireless-Maxsignal", 29, "string"),

  // Cisco
  vsa(VendorId.Cisco, "Cisco-AVPair", 1, "string"),
  vsa(VendorId.Cisco, "Cisco-NAS-Port", 2, "string"),
  vsa(VendorId.Cisco, "Cisco-Account-Info", 250, "string"),
  vsa(VendorId.Cisco, "Cisco-Command-Code", 252, "string"),

  // Juniper / ERX (BNG)
  vsa(VendorId.ERX, "ERX-Virtual-Router-Name", 1, "string"),
  vsa(VendorId.ERX, "ERX-Address-Pool-Name", 2, "string"),
  vsa(VendorId.ERX, "ERX-Local-Loopback-Interface", 3, "string"),
  vsa(VendorId.ERX, "ERX-Primary-Dns", 4, "ipaddr"),
  vsa(VendorId.ERX, "ERX-Secondary-Dns", 5, "ipaddr"),
  vsa(VendorId.ERX, "ERX-Ingress-Policy-Name", 10, "string"),
  vsa(VendorId.ERX, "ERX-Egress-Policy-Name", 11, "string"),
  vsa(VendorId.ERX, "ERX-Ingress-Statistics", 12, "integer", { disable: 0, enable: 1 }),
  vsa(VendorId.ERX, "ERX-Egress-Statistics", 13, "integer", { disable: 0, enable: 1 }),
  vsa(VendorId.ERX, "ERX-Service-Activate", 65, "string"),
  vsa(VendorId.ERX, "ERX-Service-Deactivate", 66, "string"),
  vsa(VendorId.ERX, "ERX-Service-Session", 69, "string"),
  vsa(VendorId.ERX, "ERX-Service-Statistics", 83, "integer", { disabled: 0, time: 1, "time-volume": 2 }),

  // Microsoft (RFC 2548): MS-CHAPv2 and MPPE keying
  vsa(VendorId.Microsoft, "MS-CHAP-Response", 1, "octets"),
  vsa(VendorId.Microsoft, "MS-CHAP-Error", 2, "string"),
  vsa(VendorId.Microsoft, "MS-MPPE-Encryption-Policy", 7, "integer", { "Encryption-Allowed": 1, "Encryption-Required": 2 }),
  // A bitmask of allowed key lengths (RFC 2548), so no enumeration.
  vsa(VendorId.Microsoft, "MS-MPPE-Encryption-Types", 8, "integer"),
  vsa(VendorId.Microsoft, "MS-CHAP-Challenge", 11, "octets"),
  vsa(VendorId.Microsoft, "MS-MPPE-Send-Key", 16, "octets"),
  vsa(VendorId.Microsoft, "MS-MPPE-Recv-Key", 17, "octets"),
  vsa(VendorId.Microsoft, "MS-CHAP2-Response", 25, "octets"),
  vsa(VendorId.Microsoft, "MS-CHAP2-Success", 26, "octets"),
];

const byName = new Map<string, AttributeDef>();
// Key: vendorId * 256 + code; vendor types in our dictionaries fit one octet.
const byCode = new Map<number, AttributeDef>();
for (const def of ATTRIBUTES) {
  byName.set(def.name, def);
  byCode.set(def.vendorId * 256 + def.code, def);
}

export const KNOWN_VENDOR_IDS: ReadonlySet<number> = new Set(Object.values(VendorId));

export function attributeByName(name: string): AttributeDef | undefined {
  return byName.get(name);
}

/** Like attributeByName, but a typo in code is a bug: fail loudly. */
export function attribute(name: string): AttributeDef {
  const def = byName.get(name);
  if (!def) throw new Error(`Unknown RADIUS attribute "${name}"`);
  return def;
}

export function attributeByCode(code: number, vendorId = 0): AttributeDef | undefined {
  return byCode.get(vendorId * 256 + code);
}

/** Numeric value of a named enumeration value, e.g. ("Acct-Status-Type", "Start") -> 1. */
export function enumValue(attributeName: string, valueName: string): number {
  const v = attribute(attributeName).values?.[valueName];
  if (v === undefined) throw new Error(`Unknown value "${valueName}" for RADIUS attribute "${attributeName}"`);
  return v;
}

/** Name of a numeric enumeration value, or undefined when the dictionary has none. */
export function enumName(attributeName: string, value: number): string | undefined {
  const values = attributeByName(attributeName)?.values;
  if (!values) return undefined;
  for (const [name, v] of Object.entries(values)) if (v === value) return name;
  return undefined;
}

export const AcctStatusType = acctStatusType;
export const AcctTerminateCause = acctTerminateCause;
export const ServiceType = serviceType;
export const FramedProtocol = framedProtocol;
export const NasPortType = nasPortType;
export const ErrorCause = errorCause;
