import { test, expect } from "@playwright/test";
import { createHmac } from "node:crypto";

// A domain admin requires two-step login of the domain's users: bob, who
// has none, sets it up right after his password (the code computed from
// the key the page shows), sees his recovery codes, and cannot turn it
// off while it is required; once the requirement is lifted he turns it
// off (so the other specs find him as before).
const DEMO_PASSWORD = "lantern-orchid-2026";

function totp(keyB32: string, at: number): string {
  const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of keyB32.replace(/\s/g, "")) bits += abc.indexOf(c).toString(2).padStart(5, "0");
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const h = createHmac("sha1", Buffer.from(bytes)).update(msg).digest();
  const o = h[h.length - 1] & 15;
  return ((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).toString().padStart(6, "0");
}

test("Connexion en deux étapes exigée par l'administrateur du domaine", async ({ page, browser }) => {
  test.setTimeout(60_000);
  await page.goto("/lang/fr?next=/login");
  await page.getByLabel("Adresse e-mail").fill("admin@example.test");
  await page.getByLabel(/^Mot de passe$/).fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "Se connecter" }).click();
  await page.goto("/admin/d/example.test/continuity");
  await page.getByLabel(/Exigée de chaque utilisateur du domaine/).check();
  await page.locator("#users-second-factor-save").click();
  await expect(page.locator("#notice")).toHaveText("Réglage de la connexion en deux étapes enregistré.");

  const ctx = await browser.newContext();
  const bob = await ctx.newPage();
  await bob.goto("/lang/fr?next=/login");
  await bob.getByLabel("Adresse e-mail").fill("bob@example.test");
  await bob.getByLabel(/^Mot de passe$/).fill(DEMO_PASSWORD);
  await bob.getByRole("button", { name: "Se connecter" }).click();
  await expect(bob).toHaveURL(/\/login\/enrol/);
  await expect(bob.locator(".lede")).toContainText("Ce compte doit se connecter en deux étapes");
  await expect(bob.getByAltText("QR code pour votre application d'authentification")).toBeVisible();
  const key = await bob.locator("#totp-secret").innerText();
  await bob.getByLabel("Code affiché par l'application").fill(totp(key, Date.now()));
  await bob.getByRole("button", { name: "Confirmer et activer" }).click();
  await expect(bob).toHaveURL(/\/settings\?done=on/);
  await expect(bob.locator("#recovery-codes li")).toHaveCount(10);
  await bob.locator("#security").getByLabel(/^Mot de passe$/).fill(DEMO_PASSWORD);
  await bob.getByRole("button", { name: "Désactiver la connexion en deux étapes" }).click();
  await expect(bob.locator("#security-error")).toContainText("Votre administrateur exige la connexion en deux étapes");

  await page.getByLabel(/Exigée de chaque utilisateur du domaine/).uncheck();
  await page.locator("#users-second-factor-save").click();
  await expect(page.locator("#users-second-factor-required")).not.toBeChecked();
  await bob.locator("#security").getByLabel(/^Mot de passe$/).fill(DEMO_PASSWORD);
  await bob.getByRole("button", { name: "Désactiver la connexion en deux étapes" }).click();
  await expect(bob.locator("#security-done")).toHaveText("La connexion en deux étapes est désactivée.");
  await ctx.close();
});
