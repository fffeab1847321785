// Operator roles and what each may do. Pure, shared by server and client.
export const operatorRoles = ["admin", "noc", "support", "manager", "dealer", "compliance"] as const;
export type OperatorRole = (typeof operatorRoles)[number];

export const nocRoles: readonly OperatorRole[] = ["noc", "admin", "manager", "support"];
export const supportRoles: readonly OperatorRole[] = ["support", "admin"];
export const managerRoles: readonly OperatorRole[] = ["manager", "admin"];
// Lawful-request lookups disclose who was behind an address: compliance officers only.
// Admin is left out on purpose (separation of duties, docs/compliance.md).
export const complianceRoles: readonly OperatorRole[] = ["compliance"];

export function isRole(value: unknown): value is OperatorRole {
  return typeof value === "string" && (operatorRoles as readonly string[]).includes(value);
}

// Subscriber accounts (balances, invoices, ledger): dealers only for their own subscribers.
export const accountRoles: readonly OperatorRole[] = ["support", "admin", "manager", "dealer"];

export function canSeeAccounts(role: OperatorRole): boolean {
  return accountRoles.includes(role);
}

export function canDisconnect(role: OperatorRole): boolean {
  return supportRoles.includes(role);
}

// Escalated enforcement actions (the NOC queue): list, retry, acknowledge.
export const escalationRoles: readonly OperatorRole[] = ["noc", "admin", "support"];

export function canHandleEscalations(role: OperatorRole): boolean {
  return escalationRoles.includes(role);
}

export function canSeeNoc(role: OperatorRole): boolean {
  return nocRoles.includes(role);
}

export function canLookUpNat(role: OperatorRole): boolean {
  return complianceRoles.includes(role);
}

// The auth log (docs/radius-auth.md, "Auth log"). Per subscriber: staff who answer "why
// can't I connect", dealers only for their own subscribers (ctx.scope); compliance, like the
// billing panel, is left out (its reads are the audited lawful-request lookups). Across all
// routers (/noc/auth-log): the NOC and support desks, never dealers.
export const authLogSubscriberRoles: readonly OperatorRole[] = ["support", "noc", "admin", "manager", "dealer"];
export const authLogNocRoles: readonly OperatorRole[] = ["noc", "admin", "support"];

export function canSeeSubscriberAuthLog(role: OperatorRole): boolean {
  return authLogSubscriberRoles.includes(role);
}

export function canSeeNocAuthLog(role: OperatorRole): boolean {
  return authLogNocRoles.includes(role);
}

// Routers (NAS) administration (docs/radius-auth.md, "Adding a router (NAS)"): the NOC sees
// the list, only admins add, change or deactivate a router (its shared secret is a key to
// the RADIUS service).
export const routerViewRoles: readonly OperatorRole[] = ["noc", "admin"];
export const routerAdminRoles: readonly OperatorRole[] = ["admin"];

export function canSeeRouters(role: OperatorRole): boolean {
  return routerViewRoles.includes(role);
}

export function canManageRouters(role: OperatorRole): boolean {
  return routerAdminRoles.includes(role);
}

/** Where an operator lands after login. */
export function homeFor(role: OperatorRole): "/noc" | "/subscribers" | "/compliance" {
  if (role === "noc") return "/noc";
  return role === "compliance" ? "/compliance" : "/subscribers";
}

// Payments (docs/billing-runs.md "Recording payments"). Cash: a support agent, or a dealer's
// recovery officer for the dealer's own subscribers; bank transfers and reversals: staff
// who reconcile the bank (admin, manager).
export const cashPaymentRoles: readonly OperatorRole[] = ["support", "admin", "dealer"];
export const bankPaymentRoles: readonly OperatorRole[] = ["admin", "manager"];
export const paymentReversalRoles: readonly OperatorRole[] = ["admin", "manager"];

export function canRecordCash(role: OperatorRole): boolean {
  return cashPaymentRoles.includes(role);
}

export function canRecordBank(role: OperatorRole): boolean {
  return bankPaymentRoles.includes(role);
}

export function canReversePayment(role: OperatorRole): boolean {
  return paymentReversalRoles.includes(role);
}
