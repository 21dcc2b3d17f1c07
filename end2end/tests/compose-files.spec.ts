import { test, expect, Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

// Issue 6 in the browser, against a real Postfix smarthost (the sink peer):
// a reply and a forward with files uploaded from the page (progress, one
// removed again), the bytes that arrive checked — threading headers, each
// attachment's SHA-256, and the DKIM signature (dkimpy against the record
// the demo domain's key publishes); a draft saves itself; and without
// JavaScript the files still go with the "Attach" button.
const PASSWORD = "lantern-orchid-2026";
const ROOT = path.resolve(__dirname, "..", "..");
const BIN = process.env.CONTINUITY_BIN ?? "./target/debug/continuity";
const PORT = process.env.E2E_WEB_PORT ?? "3917";
const PY = path.join(ROOT, "target", "pyenv", "bin", "python");

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      CONTINUITY_SERVER_DATA_DIR: "target/e2e-data",
      CONTINUITY_WEB_LISTEN: `127.0.0.1:${PORT}`,
      CONTINUITY_LOG: "warn",
    },
  }).toString();
}

const sinkDir = () => path.join(run("scripts/peers", ["dir"]).trim(), "pf-sink", "mail", "sink", "new");

/** The file at the sink whose text contains `needle` (waits for it). */
async function received(needle: string): Promise<string> {
  for (let i = 0; i < 150; i++) {
    const dir = sinkDir();
    if (fs.existsSync(dir)) {
      for (const f of fs.readdirSync(dir)) {
        const p = path.join(dir, f);
        if (fs.readFileSync(p).includes(needle)) return p;
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`nothing with ${needle} at the sink`);
}

/** The demo domain's DKIM record (name, text) from the CLI. */
function dkimRecord(): [string, string] {
  const out = run(BIN, ["domain", "dkim", "example.test"]);
  const line = out.split("\n").find((l) => l.includes("._domainkey.")) ?? "";
  const name = line.trim().split(/\s+/)[0];
  const text = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]).join("");
  return [name, text];
}

type Checked = {
  dkim: boolean;
  subject: string;
  in_reply_to: string;
  references: string;
  attachments: { name: string; type: string; sha256: string }[];
};

function check(file: string): Checked {
  const [name, text] = dkimRecord();
  return JSON.parse(run(PY, ["end2end/tests/helpers/mailcheck.py", file, name, text]));
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function login(page: Page) {
  await page.goto("/login");
  await page.getByLabel("Email address").fill("alice@example.test");
  await page.getByLabel(/^Password$/).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/mail\/inbox/);
}

async function hydrated(page: Page) {
  await expect(page.locator("h1[data-hydrated=true]")).toBeVisible();
}

test.beforeAll(() => {
  run("scripts/peers", ["sink-start"]);
});
test.afterAll(() => {
  run("scripts/peers", ["sink-stop"]);
});

test("a reply and a forward with uploaded files arrive byte for byte, threaded and DKIM-signed", async ({ page }) => {
  const stamp = Date.now();
  const figures = Buffer.from(`month;total\nnov;${stamp}\n`);
  const binary = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
  await login(page);

  // reply to the demo's "Quarterly report" with a file
  await page.getByText("Quarterly report").first().click();
  await expect(page).toHaveURL(/\/mail\/m\/\d+/);
  await page.locator("#reply").click();
  await hydrated(page);
  const subject = `Re: Quarterly report ${stamp}`;
  await page.locator("#compose-subject").fill(subject);
  await page.locator("#compose-body").fill("Figures attached.");
  await page.locator("#compose-file-input").setInputFiles([
    { name: "figures.csv", mimeType: "text/csv", buffer: figures },
    { name: "raw.bin", mimeType: "application/octet-stream", buffer: binary },
  ]);
  await expect(page.locator("#attached li")).toHaveCount(2);
  await expect(page.locator("#attached")).toContainText("figures.csv");
  await expect(page.locator("#compose-draft")).not.toHaveValue("0");
  // the no-JavaScript button is not needed once the page is enhanced
  await expect(page.locator("#compose-attach")).toBeHidden();
  await page.locator("#compose-send").click();
  await expect(page).toHaveURL(/\/mail\/sent\?sent=1/);
  let got = check(await received(subject));
  expect(got.dkim).toBe(true);
  expect(got.in_reply_to).toBe("<demo-alice@remote.test>");
  expect(got.references).toContain("<demo-alice@remote.test>");
  expect(got.attachments.map((a) => [a.name, a.sha256])).toEqual([
    ["figures.csv", sha(figures)],
    ["raw.bin", sha(binary)],
  ]);

  // forward the newsletter: its PDF kept, one more file, and one removed again
  await page.goto("/mail/inbox");
  await page.getByText("Programme de décembre").first().click();
  await page.locator("#forward").click();
  await hydrated(page);
  await expect(page.locator("#forwarded")).toContainText("programme décembre.pdf");
  const fwd = `Fwd: programme ${stamp}`;
  await page.locator("#compose-to").fill("xavier@remote.test");
  await page.locator("#compose-subject").fill(fwd);
  await page.locator("#compose-file-input").setInputFiles({ name: "oops.txt", mimeType: "text/plain", buffer: Buffer.from("wrong file") });
  await expect(page.locator("#attached")).toContainText("oops.txt");
  // from now on the draft holds the forwarded PDF too
  await expect(page.locator("#attached")).toContainText("programme décembre.pdf");
  await page.locator("#attached li", { hasText: "oops.txt" }).getByRole("button", { name: "Remove" }).click();
  await expect(page.locator("#attached li", { hasText: "oops.txt" })).toHaveCount(0);
  const extra = Buffer.from(`extra ${stamp}`);
  await page.locator("#compose-file-input").setInputFiles({ name: "extra.txt", mimeType: "text/plain", buffer: extra });
  await expect(page.locator("#attached li")).toHaveCount(3);
  await page.locator("#compose-send").click();
  await expect(page).toHaveURL(/\/mail\/sent\?sent=1/);
  got = check(await received(fwd));
  expect(got.dkim).toBe(true);
  // the newsletter's inline logo comes along too, named from its type
  const logo = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
  expect(got.attachments.map((a) => [a.name, a.sha256])).toEqual([
    ["image-1.png", sha(logo)],
    ["programme décembre.pdf", sha(Buffer.from("%PDF-1.4\n% demo\n"))],
    ["extra.txt", sha(extra)],
  ]);

  // leave the demo's messages unread, as the other tests expect them
  for (const subject of ["Quarterly report", "Programme de décembre"]) {
    await page.goto("/mail/inbox");
    await page.getByText(subject).first().click();
    await page.locator('form[action$="/seen"] button').click();
    await expect(page).not.toHaveURL(/\/mail\/m\/\d+$/);
  }
});

test("a draft saves itself while the user types", async ({ page }) => {
  await login(page);
  await page.goto("/mail/compose");
  await hydrated(page);
  const subject = `Autosaved ${Date.now()}`;
  await page.locator("#compose-subject").fill(subject);
  await page.locator("#compose-body").fill("Not sent yet.");
  await expect(page.locator("#autosaved")).toBeVisible({ timeout: 15_000 });
  const draft = await page.locator("#compose-draft").inputValue();
  expect(Number(draft)).toBeGreaterThan(0);
  await page.goto(`/mail/compose?draft=${draft}`);
  await expect(page.locator("#compose-subject")).toHaveValue(subject);
  await expect(page.locator("#compose-body")).toHaveValue("Not sent yet.");
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });
  test("files go with the Attach button and can be removed", async ({ page }) => {
    await login(page);
    await page.goto("/mail/compose");
    await page.locator("#compose-subject").fill("No script");
    await page.locator("#compose-file-input").setInputFiles({ name: "plain.txt", mimeType: "text/plain", buffer: Buffer.from("no js") });
    await page.locator("#compose-attach").click();
    await expect(page).toHaveURL(/\/mail\/compose\?draft=\d+/);
    await expect(page.locator("#attached")).toContainText("plain.txt");
    await expect(page.locator("#compose-subject")).toHaveValue("No script");
    await page.locator("#attached li", { hasText: "plain.txt" }).getByRole("button", { name: "Remove" }).click();
    await expect(page.locator("#attached li")).toHaveCount(0);
  });
});
