import { test, expect, Page, Request } from "@playwright/test";
import { execFileSync } from "node:child_process";
import * as path from "node:path";

// The demo (playwright.config.ts) has alice, bob and carol @example.test with
// the demo password, and an HTML newsletter for alice that tries a script, an
// onerror handler and a remote tracking pixel, with an inline logo and a PDF.
const DEMO_PASSWORD = "lantern-orchid-2026";
const ROOT = path.resolve(__dirname, "..", "..");
const BIN = process.env.CONTINUITY_BIN ?? "./target/debug/continuity";
const PORT = process.env.E2E_WEB_PORT ?? "3917";

/** `continuity user invite` against the running demo's data: the set-password link. */
function inviteLink(address: string): string {
  const out = execFileSync(BIN, ["user", "invite", address], {
    cwd: ROOT,
    env: {
      ...process.env,
      CONTINUITY_SERVER_DATA_DIR: "target/e2e-data",
      CONTINUITY_WEB_LISTEN: `127.0.0.1:${PORT}`,
      CONTINUITY_LOG: "warn",
    },
  }).toString();
  const link = out.trim().split("\n").pop() ?? "";
  expect(link).toContain("/set-password?t=");
  return link;
}

async function logIn(page: Page, address: string, password: string) {
  await page.goto("/login");
  await page.getByLabel(/Email address|Adresse e-mail/).fill(address);
  await page.getByLabel(/^(Password|Mot de passe)$/).fill(password);
  await page.getByRole("button", { name: /Log in|Se connecter/ }).click();
  await expect(page).toHaveURL(/\/mail\/inbox/);
}

function watchRemote(page: Page): string[] {
  const remote: string[] = [];
  page.on("request", (r: Request) => {
    const u = new URL(r.url());
    if (u.hostname !== "127.0.0.1") remote.push(r.url());
  });
  return remote;
}

test("a user sets the emergency password from the emailed link, then logs in", async ({ page }) => {
  const link = inviteLink("bob@example.test");
  await page.goto(link);
  await expect(page.locator("#link-address")).toHaveText("bob@example.test");
  await expect(page.locator("#password-policy")).toContainText("12");
  // too weak: explained, nothing set
  await page.getByLabel("New password", { exact: true }).fill("password1234");
  await page.getByLabel("Confirm the new password").fill("password1234");
  await page.getByRole("button", { name: "Save password" }).click();
  await expect(page.locator("#password-problems")).toContainText("too easy to guess");
  const strong = "copper-Tundra-lantern-58";
  await page.getByLabel("New password", { exact: true }).fill(strong);
  await page.getByLabel("Confirm the new password").fill(strong);
  await page.getByRole("button", { name: "Save password" }).click();
  await expect(page).toHaveURL(/\/login\?set=1/);
  await expect(page.getByRole("status")).toContainText("Your password is set");
  // the link is spent
  await page.goto(link);
  await expect(page.locator("#link-problem")).toContainText("already been used");
  await logIn(page, "bob@example.test", strong);
  await expect(page.locator("#mail-list")).toContainText("Réunion de lundi");
});

test("a wrong password gets one clear message", async ({ page }) => {
  await page.goto("/login");
  await page.getByLabel("Email address").fill("alice@example.test");
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.locator("#login-error")).toHaveText("The address or the password is not correct.");
  await expect(page.getByLabel("Email address")).toHaveValue("alice@example.test");
});

test("read a hostile HTML message: nothing runs, nothing remote loads until allowed", async ({ page }, testInfo) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const remote = watchRemote(page);
  await page.route("https://tracker.remote.test/**", (route) =>
    route.fulfill({ status: 200, contentType: "image/gif", body: Buffer.from("R0lGODlhAQABAAAAACw=", "base64") }),
  );
  await logIn(page, "alice@example.test", DEMO_PASSWORD);
  await page.locator("h1[data-hydrated]").waitFor();
  await page.screenshot({ path: testInfo.outputPath("inbox.png"), fullPage: true });
  await page.screenshot({ path: "test-results/inbox.png", fullPage: true });

  // hydrated: following a link does not reload the page
  await page.evaluate(() => ((window as any).__stay = 42));
  await page.getByRole("link", { name: /Programme de décembre/ }).click();
  await expect(page.locator("#message-subject")).toHaveText("Programme de décembre");
  expect(await page.evaluate(() => (window as any).__stay)).toBe(42);
  // reading it counted it read
  await expect(page.locator("#unseen-count")).toHaveText("1");

  const frame = page.frameLocator("#mail-html");
  await expect(frame.getByText("Bonjour Alice, voici notre programme.")).toBeVisible();
  // the inline image is served from the message itself
  await expect(frame.locator("img[alt=logo]")).toHaveAttribute("src", /\/mail\/m\/\d+\/cid\//);
  await expect
    .poll(() => frame.locator("img[alt=logo]").evaluate((img: HTMLImageElement) => img.naturalWidth))
    .toBe(1);
  // nothing ran: no script element, no handler, title intact
  expect(await frame.locator("script").count()).toBe(0);
  expect(await frame.locator("[onerror]").count()).toBe(0);
  await expect(page).toHaveTitle("Continuity");
  await expect(page.locator("#remote-blocked")).toBeVisible();
  // the frame has loaded everything it was going to (its own image included)
  await page.waitForLoadState("networkidle");
  expect(remote).toEqual([]);
  await page.screenshot({ path: testInfo.outputPath("message.png"), fullPage: true });
  await page.screenshot({ path: "test-results/message.png", fullPage: true });

  // allowed for this message: now the pixel loads
  await page.locator("#show-remote").click();
  await expect(page.locator("#remote-shown")).toBeVisible();
  await expect.poll(() => remote.some((u) => u.startsWith("https://tracker.remote.test/pixel.gif"))).toBe(true);
  await expect(page).toHaveTitle("Continuity");
  expect(errors).toEqual([]);
});

test("open an attachment and download the original", async ({ page }) => {
  await logIn(page, "alice@example.test", DEMO_PASSWORD);
  await page.getByRole("link", { name: /Programme de décembre/ }).click();
  const [pdf] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "programme décembre.pdf" }).click(),
  ]);
  expect(pdf.suggestedFilename()).toBe("programme décembre.pdf");
  const [eml] = await Promise.all([page.waitForEvent("download"), page.locator("#download-eml").click()]);
  expect(eml.suggestedFilename()).toMatch(/^message-\d+\.eml$/);
});

test("search, switch to French, log out", async ({ page }) => {
  await logIn(page, "alice@example.test", DEMO_PASSWORD);
  await page.locator("h1[data-hydrated]").waitFor();
  await page.getByRole("link", { name: "Search" }).click();
  await page.locator("#search-q").fill("programme");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/q=programme/);
  await expect(page.locator("#mail-list")).toContainText("Programme de décembre");
  await expect(page.locator("#mail-list")).not.toContainText("Quarterly report");
  await page.locator("#search-q").fill("zzzznothing");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.locator("#mail-empty")).toBeVisible();

  await page.getByRole("link", { name: "Français" }).click();
  await expect(page.locator("html")).toHaveAttribute("lang", "fr");
  await expect(page.getByRole("link", { name: /Boîte de réception/ })).toBeVisible();
  await page.getByRole("link", { name: /Boîte de réception/ }).click();
  await expect(page.getByRole("heading", { name: "Boîte de réception" })).toBeVisible();
  await page.screenshot({ path: "test-results/inbox-fr.png", fullPage: true });
  await page.getByRole("button", { name: "Se déconnecter" }).click();
  await expect(page).toHaveURL(/\/login\?bye=1/);
  await expect(page.getByRole("status")).toHaveText("Vous êtes déconnecté.");
  // the session is gone: the inbox sends back to the login page
  await page.goto("/mail/inbox");
  await expect(page).toHaveURL(/\/login\?expired=1/);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });
  test("log in, read, search and log out from server-rendered pages", async ({ page }) => {
    await logIn(page, "carol@example.test", DEMO_PASSWORD);
    await expect(page.locator("#mail-list")).toContainText("Your order has shipped");
    await page.getByRole("link", { name: /Your order has shipped/ }).click();
    await expect(page.locator("#mail-text")).toContainText("Your order #4521 is on its way.");
    await page.getByRole("button", { name: "Mark as unread" }).click();
    await expect(page).toHaveURL(/\/mail\/inbox$/);
    await expect(page.locator("#mail-list li.unread", { hasText: "Your order has shipped" })).toHaveCount(1);
    await page.goto("/mail/search?q=order");
    await expect(page.locator("#mail-list")).toContainText("Your order has shipped");
    await page.getByRole("button", { name: "Log out" }).click();
    await expect(page).toHaveURL(/\/login\?bye=1/);
  });
});
