import { test, expect } from "@playwright/test";
import { execFileSync } from "node:child_process";
import * as net from "node:net";
import * as path from "node:path";

// The demo's primary (127.0.0.1:2526) is down, so example.test is in an
// outage and alice sees the banner. While her page stays open, the primary
// comes back (a tiny SMTP server here) and goes away again: the banner
// follows without a reload.
const DEMO_PASSWORD = "lantern-orchid-2026";
const ROOT = path.resolve(__dirname, "..", "..");
const BIN = process.env.CONTINUITY_BIN ?? "./target/debug/continuity";
const PORT = process.env.E2E_WEB_PORT ?? "3917";

function cli(...args: string[]): string {
  return execFileSync(BIN, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      CONTINUITY_SERVER_DATA_DIR: "target/e2e-data",
      CONTINUITY_WEB_LISTEN: `127.0.0.1:${PORT}`,
      CONTINUITY_LOG: "warn",
    },
  }).toString();
}

/** A healthy primary: greets, accepts every command and message. */
function healthyPrimary(): Promise<net.Server> {
  const server = net.createServer((sock) => {
    let inData = false;
    let buf = "";
    sock.write("220 primary.test ESMTP\r\n");
    sock.on("data", (chunk) => {
      buf += chunk.toString("latin1");
      for (;;) {
        if (inData) {
          const end = buf.indexOf("\r\n.\r\n");
          if (end < 0) return;
          buf = buf.slice(end + 5);
          inData = false;
          sock.write("250 2.0.0 Ok: queued\r\n");
          continue;
        }
        const eol = buf.indexOf("\r\n");
        if (eol < 0) return;
        const line = buf.slice(0, eol).toUpperCase();
        buf = buf.slice(eol + 2);
        if (line.startsWith("EHLO")) sock.write("250-primary.test\r\n250 8BITMIME\r\n");
        else if (line.startsWith("DATA")) {
          inData = true;
          sock.write("354 go on\r\n");
        } else if (line.startsWith("QUIT")) {
          sock.end("221 2.0.0 Bye\r\n");
          return;
        } else sock.write("250 2.0.0 Ok\r\n");
      }
    });
    sock.on("error", () => {});
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

test("the webmail banner follows the domain's state while the page is open", async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto("/login");
  await page.getByLabel("Email address").fill("alice@example.test");
  await page.getByLabel(/^Password$/).fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/mail\/inbox/);
  await expect(page.locator("h1[data-hydrated=true]")).toBeVisible();
  const banner = page.locator("#continuity-banner");
  await expect(banner).toHaveClass(/outage/, { timeout: 30_000 });

  const primary = await healthyPrimary();
  const port = (primary.address() as net.AddressInfo).port;
  try {
    const url = page.url();
    cli("domain", "set-primary", "example.test", "--primary", `127.0.0.1:${port}`, "--tls", "none");
    // two good probes (5 s apart), the held mail delivered, then the next
    // poll of the page (every 20 s): no reload
    await expect(banner).toHaveCount(0, { timeout: 60_000 });
    expect(page.url()).toBe(url);
    expect(cli("domain", "status", "example.test")).toContain("example.test: normal");
  } finally {
    // and down again: the banner comes back by itself
    cli("domain", "set-primary", "example.test", "--primary", "127.0.0.1:2526", "--tls", "opportunistic");
    primary.close();
  }
  await expect(banner).toHaveClass(/outage/, { timeout: 60_000 });
});
