// Dealer scoping: a dealer-role operator only ever sees subscribers with their dealer_id.
// Pure, so every query builds its filter from here and the rule is tested once.
import type { OperatorRole } from "../lib/roles";

export interface ScopedOperator {
  role: OperatorRole;
  dealerId: number | null;
}

/** A dealer with no dealer row matches nothing rather than everything. */
const noDealer = -1;

export function subscriberScope(operator: ScopedOperator): { dealerId?: number } {
  if (operator.role !== "dealer") return {};
  return { dealerId: operator.dealerId ?? noDealer };
}

export function canSeeSubscriber(operator: ScopedOperator, subscriberDealerId: number | null): boolean {
  if (operator.role !== "dealer") return true;
  return operator.dealerId !== null && operator.dealerId === subscriberDealerId;
}
