// Test helpers for real UDP exchanges on loopback.
import { createSocket, type Socket } from "node:dgram";

export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A bare UDP socket for sending hand-made datagrams and collecting whatever comes back. */
export async function rawSocket(address = "127.0.0.1"): Promise<{ socket: Socket; received: Buffer[]; send(buf: Buffer, port: number, host?: string): void; close(): Promise<void> }> {
  const socket = createSocket("udp4");
  const received: Buffer[] = [];
  socket.on("message", (m) => received.push(m));
  await new Promise<void>((r) => socket.bind(0, address, () => r()));
  return {
    socket,
    received,
    send: (buf, port, host = "127.0.0.1") => socket.send(buf, port, host),
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}
