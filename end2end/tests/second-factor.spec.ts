import { test, expect, Page, Browser } from "@playwright/test";
import { createHmac } from "node:crypto";

// Two-step login in the French webmail (server/tests/it/second_factor.rs
// tries it harder): carol turns it on from Paramètres — the QR code is an
// image the server draws, the key is shown beside it and this test
// computes the codes from it, as an authenticator app would (RFC 6238) —
// then logs in with password and code, with a recovery code (once only),
// sees a wrong code refused and five of them end the login, makes an app
// password for a mail app, and turns it all off again with her password.
const DEMO_PASSWORD = "lantern-orchid-2026";
const CAROL = "carol@example.test";

function base32(s: string): Buffer {
  const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of s.replace(/[\s=]/g, "").toUpperCase()) {
    const v = abc.indexOf(c);
    if (v < 0) throw new Error(`not base32: ${c}`);
    bits += v.toString(2).padStart(5, "0");
  }
  const out: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) out.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(out);
}

/** The six-digit code for `key` at `at` (ms). */
function totp(key: Buffer, at: number): string {
  const step = Math.floor(at / 1000 / 30);
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const h = createHmac("sha1", key).update(msg).digest();
  const o = h[h.length - 1] & 15;
  const n = (h.readUInt32BE(o) & 0x7fffffff) % 1_000_000;
  return n.toString().padStart(6, "0");
}

async function passwordStep(page: Page) {
  await page.goto("/lang/fr?next=/login");
  await page.getByLabel("Adresse e-mail").fill(CAROL);
  await page.getByLabel(/^Mot de passe$/).fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "Se connecter" }).click();
  await expect(page).toHaveURL(/\/login\/code/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Connexion en deux étapes");
}

async function typeCode(page: Page, code: string) {
  await page.getByLabel("Code").fill(code);
  await page.getByRole("button", { name: "Valider" }).click();
}

async function freshPage(browser: Browser): Promise<Page> {
  const ctx = await browser.newContext();
  return ctx.newPage();
}

test("Connexion en deux étapes : activer, se connecter avec un code, un code de secours, la désactiver", async ({
  page,
  browser,
}) => {
  test.setTimeout(90_000);
  await page.goto("/lang/fr?next=/login");
  await page.getByLabel("Adresse e-mail").fill(CAROL);
  await page.getByLabel(/^Mot de passe$/).fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "Se connecter" }).click();
  await expect(page).toHaveURL(/\/mail\/inbox/);

  // turn it on from Paramètres
  await page.goto("/settings");
  await expect(page.locator("#two-step-state")).toHaveAttribute("data-on", "false");
  await page.getByRole("button", { name: "Activer la connexion en deux étapes" }).click();
  const qr = page.getByAltText("QR code pour votre application d'authentification");
  await expect(qr).toBeVisible();
  // the image is the server's SVG, and it loaded
  expect(await qr.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  const key = base32(await page.locator("#totp-secret").innerText());
  const uri = await page.locator("#totp-secret").getAttribute("data-uri");
  expect(uri).toContain("otpauth://totp/Continuity:carol%40example.test?");
  await page.getByLabel("Code affiché par l'application").fill("123456" === totp(key, Date.now()) ? "654321" : "123456");
  await page.getByRole("button", { name: "Confirmer et activer" }).click();
  await expect(page.locator("#security-error")).toContainText("Ce code n'est pas le bon");
  const enrolledAt = Date.now();
  await page.getByLabel("Code affiché par l'application").fill(totp(key, enrolledAt));
  await page.getByRole("button", { name: "Confirmer et activer" }).click();
  await expect(page.locator("#security-done")).toHaveText("La connexion en deux étapes est activée.");
  const codes = await page.locator("#recovery-codes li code").allInnerTexts();
  expect(codes).toHaveLength(10);
  await expect(page.locator("#codes-left")).toHaveText("10");

  // a mail app's password, shown once
  await page.getByLabel("Nom de l'appareil").fill("Thunderbird (portable)");
  await page.getByRole("button", { name: "Créer un mot de passe d'application" }).click();
  await expect(page.locator("#security-done")).toHaveText("Mot de passe d'application créé.");
  await expect(page.locator("#app-password")).toHaveText(/^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
  await expect(page.locator("tr[data-app-password='Thunderbird (portable)']")).toContainText("jamais");

  // another browser: password, then a wrong code, then the right one
  const other = await freshPage(browser);
  await passwordStep(other);
  await typeCode(other, "000000" === totp(key, Date.now()) ? "000001" : "000000");
  await expect(other.locator("#code-error")).toHaveText("Code incorrect : réessayez.");
  // the enrolment's code is spent: the app's next one (30 s on) is taken
  await typeCode(other, totp(key, enrolledAt + 30_000));
  await expect(other).toHaveURL(/\/mail\/inbox/);
  await other.context().close();

  // a recovery code opens one login, once
  const third = await freshPage(browser);
  await passwordStep(third);
  await typeCode(third, codes[0]);
  await expect(third).toHaveURL(/\/mail\/inbox/);
  await third.context().close();
  const fourth = await freshPage(browser);
  await passwordStep(fourth);
  await typeCode(fourth, codes[0]);
  await expect(fourth.locator("#code-error")).toHaveText("Code incorrect : réessayez.");
  // wrong codes: the fifth on one login ends it, back to the password
  for (let i = 0; i < 3; i++) {
    await typeCode(fourth, "999999" === totp(key, Date.now()) ? "999998" : "999999");
    await expect(fourth.locator("#code-error")).toBeVisible();
  }
  await typeCode(fourth, "999999" === totp(key, Date.now()) ? "999998" : "999999");
  await expect(fourth).toHaveURL(/\/login\?error=expired/);
  await expect(fourth.locator("#login-error")).toContainText("saisissez à nouveau votre mot de passe");
  // and the account's codes are now held back for a while, even right ones
  await passwordStep(fourth);
  await typeCode(fourth, codes[1]);
  await expect(fourth.locator("#code-error")).toHaveText("Trop de codes erronés : patientez quelques minutes.");
  await fourth.context().close();

  // back in the first browser: one recovery code fewer; off with the password
  await page.goto("/settings");
  await expect(page.locator("#codes-left")).toHaveText("9");
  await page.locator("#security").getByLabel(/^Mot de passe$/).fill("pas le bon");
  await page.getByRole("button", { name: "Désactiver la connexion en deux étapes" }).click();
  await expect(page.locator("#security-error")).toHaveText("Mot de passe incorrect : rien n'a été modifié.");
  await page.locator("#security").getByLabel(/^Mot de passe$/).fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "Désactiver la connexion en deux étapes" }).click();
  await expect(page.locator("#security-done")).toHaveText("La connexion en deux étapes est désactivée.");
  await page.locator("tr[data-app-password='Thunderbird (portable)']").getByRole("button", { name: "Révoquer" }).click();
  await expect(page.locator("#security-done")).toContainText("Mot de passe d'application révoqué");
  await expect(page.locator("tr[data-app-password]")).toHaveCount(0);
});
