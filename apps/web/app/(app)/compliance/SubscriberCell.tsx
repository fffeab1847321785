import type { ComplianceSubscriber } from "~/server/compliance/dto";

/** Who the record belongs to, as a legal reply names them (account, name, CNIC, phone, address). */
export function SubscriberCell({ subscriber, testIdPrefix }: { subscriber: ComplianceSubscriber | null; testIdPrefix: "nat" | "ipv6" }) {
  if (!subscriber) return <span className="muted">not identified</span>;
  return (
    <div className="stack tight">
      <span>
        <strong data-testid={`${testIdPrefix}-account`}>{subscriber.accountNo}</strong> {subscriber.name}
      </span>
      <span className="mono">
        CNIC <span data-testid={`${testIdPrefix}-cnic`}>{subscriber.cnic}</span> · {subscriber.phone}
      </span>
      <span className="wrap-cell">
        {subscriber.address}, {subscriber.city}
      </span>
    </div>
  );
}
