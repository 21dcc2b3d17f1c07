import { test, expect, Page, CDPSession } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

// Passkeys in the French webmail, with Chromium's virtual authenticator
// (CDP WebAuthn.addVirtualAuthenticator: a platform passkey that verifies
// its user): carol sets her emergency password from the emailed link, is
// offered a passkey right after logging in, adds one, then logs in with
// the password and the passkey. server/tests/it/passkeys.rs tries every
// check harder with a software authenticator.
//
// A browser makes no passkey for an IP address: this spec runs its own
// service, reached as http://localhost (its public address), on a port of
// its own, with its own data.
const ROOT = path.resolve(__dirname, "..", "..");
const BIN = process.env.CONTINUITY_BIN ?? "./target/debug/continuity";
const PORT = process.env.E2E_PASSKEY_PORT ?? "3919";
const SITE = `http://localhost:${PORT}`;
const DATA = "target/e2e-passkey";
const CAROL = "carol@example.test";

const env = {
  ...process.env,
  CONTINUITY_SERVER_DATA_DIR: DATA,
  CONTINUITY_WEB_SITE_ROOT: "target/site",
  CONTINUITY_WEB_LISTEN: `127.0.0.1:${PORT}`,
  CONTINUITY_WEB_PUBLIC_URL: SITE,
  CONTINUITY_SMTP_LISTEN: "127.0.0.1:0",
  CONTINUITY_IMAP_LISTEN: "127.0.0.1:0",
  CONTINUITY_SUBMISSION_LISTEN: "127.0.0.1:0",
  CONTINUITY_OUTBOUND_SMARTHOST: "127.0.0.1:2527",
  CONTINUITY_OUTBOUND_SMARTHOST_TLS: "none",
  CONTINUITY_LOG: "warn",
};

let server: ChildProcess | undefined;

test.beforeAll(async () => {
  fs.rmSync(path.join(ROOT, DATA), { recursive: true, force: true });
  server = spawn(BIN, ["demo"], { cwd: ROOT, env, stdio: "ignore" });
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${PORT}/healthz`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("the passkey spec's service did not start");
});

test.afterAll(async () => {
  server?.kill("SIGTERM");
});

/** `continuity user invite`: the set-password link (at the public address). */
function inviteLink(address: string): string {
  const out = execFileSync(BIN, ["user", "invite", address], { cwd: ROOT, env }).toString();
  const link = out.trim().split("\n").pop() ?? "";
  expect(link).toContain(`${SITE}/set-password?t=`);
  return link;
}

/** A passkey kept by this browser: a platform authenticator that verifies its user. */
async function authenticator(page: Page): Promise<[CDPSession, string]> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return [cdp, authenticatorId];
}

async function credentials(cdp: CDPSession, id: string) {
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId: id });
  return credentials;
}

async function passwordStep(page: Page, password: string) {
  await page.getByLabel("Adresse e-mail").fill(CAROL);
  await page.getByLabel(/^Mot de passe$/).fill(password);
  await page.getByRole("button", { name: "Se connecter" }).click();
}

test("Clé d'accès : proposée après le lien, ajoutée, puis utilisée pour se connecter", async ({ page }) => {
  test.setTimeout(90_000);
  const [cdp, id] = await authenticator(page);
  await page.goto(`${SITE}/lang/fr?next=/login`);

  // the emergency link sets the password...
  await page.goto(inviteLink(CAROL));
  const strong = "granite-Puffin-orchard-41";
  await page.getByLabel("Nouveau mot de passe", { exact: true }).fill(strong);
  await page.getByLabel("Confirmez le nouveau mot de passe").fill(strong);
  await page.getByRole("button", { name: "Enregistrer le mot de passe" }).click();
  await expect(page).toHaveURL(/\/login\?set=1/);

  // ...and the login right after it offers a passkey
  await passwordStep(page, strong);
  await expect(page).toHaveURL(/\/settings\?offer=passkey/);
  await expect(page.locator("#passkey-offer")).toContainText("ajoutez une clé d'accès");
  await expect(page.locator("#passkeys-none")).toHaveText("Aucune clé d'accès pour l'instant.");
  await page.getByLabel("Nom de la clé").fill("Ordinateur portable");
  const add = page.getByRole("button", { name: "Ajouter une clé d'accès" });
  await expect(add).toBeEnabled(); // the page's script is running
  await add.click();
  await expect(page).toHaveURL(/done=passkey/);
  await expect(page.locator("#security-done")).toHaveText(
    "Clé d'accès ajoutée : vos connexions peuvent l'utiliser comme seconde étape.",
  );
  // the first factor: two-step login on, recovery codes shown once
  await expect(page.locator("#two-step-state")).toHaveAttribute("data-on", "true");
  await expect(page.locator("#recovery-codes li")).toHaveCount(10);
  await expect(page.locator('tr[data-passkey="Ordinateur portable"]')).toBeVisible();
  expect(await credentials(cdp, id)).toHaveLength(1);
  // the section with its passkeys passes axe-core, like every page
  const axe = await new AxeBuilder({ page })
    .include("#security")
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"])
    .analyze();
  expect(axe.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.id)).toEqual([]);

  // its only factor cannot be removed without the password
  await page
    .locator('tr[data-passkey="Ordinateur portable"]')
    .getByRole("button", { name: "Retirer" })
    .click();
  await expect(page.locator("#security-error")).toContainText("C'est votre seul second facteur");

  // log out, then in: the password, then the passkey
  await page.getByRole("button", { name: "Se déconnecter" }).click();
  await page.goto(`${SITE}/login`);
  await passwordStep(page, strong);
  await expect(page).toHaveURL(/\/login\/code/);
  const use = page.getByRole("button", { name: "Utiliser une clé d'accès" });
  await expect(use).toBeEnabled();
  const before = (await credentials(cdp, id))[0].signCount;
  await use.click();
  await expect(page).toHaveURL(/\/mail\/inbox/);
  expect((await credentials(cdp, id))[0].signCount).toBeGreaterThan(before);
  await page.goto(`${SITE}/settings`);
  await expect(page.locator('tr[data-passkey="Ordinateur portable"] td.used')).not.toHaveText("jamais");

  // a passkey this browser does not hold: refused, and a code is still asked
  await page.getByRole("button", { name: "Se déconnecter" }).click();
  await cdp.send("WebAuthn.clearCredentials", { authenticatorId: id });
  await page.goto(`${SITE}/login`);
  await passwordStep(page, strong);
  await page.getByRole("button", { name: "Utiliser une clé d'accès" }).click();
  await expect(page).toHaveURL(/\/login\/code\?error=passkey/, { timeout: 20_000 });
  await expect(page.locator("#code-error")).toHaveText(
    "La clé d'accès n'a pas été acceptée : réessayez, ou saisissez un code.",
  );
  await expect(page.getByLabel("Code")).toBeVisible();
});

test("Clé d'accès exigée : la connexion la fait ajouter au lieu d'une application", async ({ page }) => {
  test.setTimeout(60_000);
  execFileSync(BIN, ["domain", "second-factor", "example.test", "--users", "required"], { cwd: ROOT, env });
  try {
    const [cdp, id] = await authenticator(page);
    await page.goto(`${SITE}/lang/fr?next=/login`);
    await page.getByLabel("Adresse e-mail").fill("bob@example.test");
    await page.getByLabel(/^Mot de passe$/).fill("lantern-orchid-2026");
    await page.getByRole("button", { name: "Se connecter" }).click();
    await expect(page).toHaveURL(/\/login\/enrol/);
    await expect(page.getByRole("heading", { name: "Ou utilisez une clé d'accès" })).toBeVisible();
    await page.getByLabel("Nom de la clé").fill("Téléphone");
    const add = page.getByRole("button", { name: "Ajouter une clé d'accès" });
    await expect(add).toBeEnabled();
    await add.click();
    await expect(page).toHaveURL(/\/settings\?done=passkey/);
    await expect(page.locator("#recovery-codes li")).toHaveCount(10);
    await expect(page.locator('tr[data-passkey="Téléphone"]')).toBeVisible();
    // no authenticator app was left half set up
    await expect(page.locator("#totp-secret")).toHaveCount(0);
    expect(await credentials(cdp, id)).toHaveLength(1);
  } finally {
    execFileSync(BIN, ["domain", "second-factor", "example.test", "--users", "optional"], { cwd: ROOT, env });
  }
});
