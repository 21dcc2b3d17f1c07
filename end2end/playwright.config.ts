import { defineConfig, devices } from "@playwright/test";

// Debian's chromium (scripts/setup --test installs it); never `npx playwright install`.
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const PORT = process.env.E2E_WEB_PORT ?? "3917";
const BIN = process.env.CONTINUITY_BIN ?? "./target/debug/continuity";

export default defineConfig({
  // Playwright starts the built binary with the demo data and waits for it.
  webServer: {
    command: `rm -rf target/e2e-data && ${BIN} demo`,
    cwd: "..",
    url: `http://127.0.0.1:${PORT}/`,
    reuseExistingServer: false,
    timeout: 60_000,
    env: {
      CONTINUITY_SERVER_DATA_DIR: "target/e2e-data",
      CONTINUITY_WEB_SITE_ROOT: "target/site",
      CONTINUITY_WEB_LISTEN: `127.0.0.1:${PORT}`,
      CONTINUITY_SMTP_LISTEN: "127.0.0.1:0",
      CONTINUITY_IMAP_LISTEN: "127.0.0.1:0",
      CONTINUITY_SUBMISSION_LISTEN: "127.0.0.1:0",
      // mail for outside addresses goes to the Postfix sink, which the
      // compose-files spec starts (scripts/peers sink-start)
      CONTINUITY_OUTBOUND_SMARTHOST: "127.0.0.1:2527",
      CONTINUITY_OUTBOUND_SMARTHOST_TLS: "none",
    },
  },
  testDir: "./tests",
  outputDir: "./test-results",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  // a test.only left behind would skip the rest silently: never allowed
  forbidOnly: true,
  retries: 0,
  reporter: "list",
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    trace: "off",
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        launchOptions: {
          executablePath: CHROMIUM,
          args: [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
          ],
        },
      },
    },
  ],
});
