-- Session history for the compliance lookup (issue 6): radius_sessions keeps stopped
-- sessions, searched by framed IP (also: which session held a private IP at time T, to
-- resolve a NAT record to a subscriber) and by MAC (Calling-Station-Id), each within a
-- time range.

-- CreateIndex
CREATE INDEX "radius_sessions_framed_ip_started_at_idx" ON "radius_sessions"("framed_ip", "started_at");

-- CreateIndex
CREATE INDEX "radius_sessions_calling_station_id_started_at_idx" ON "radius_sessions"("calling_station_id", "started_at");
