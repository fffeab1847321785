-- Payments recorded from the web carry the client's request key (one per form
-- submission), so a double click or a retried request records once.
ALTER TABLE "payments" ADD COLUMN "request_key" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "payments_request_key_key" ON "payments"("request_key");
