import { test, expect, Page } from "@playwright/test";

// The seed manual's Control Panel procedures, step by step, in the French
// UI (then once in English). The demo has admin@example.test (the domain's
// admin) and ops@continuity.test (operator) with the demo password, and the
// users alice, bob and carol @example.test (aliases alice.martin, ...).
const PASSWORD = "lantern-orchid-2026";
const SHOTS = "test-results/control-panel";

async function connect(page: Page, lang: "fr" | "en") {
  // 1. Connectez-vous avec vos identifiants administratifs dans le Control Panel.
  await page.goto(`/lang/${lang}?next=/login`);
  await page.locator("input[name=address]").fill("admin@example.test");
  await page.locator("input[name=password]").fill(PASSWORD);
  await page.locator("form.stack button[type=submit]").click();
  await expect(page).toHaveURL(/\/admin$/);
  await page.locator("h1[data-hydrated]").waitFor();
}

async function selectDomainAndNavigate(page: Page) {
  // 2. Sélectionnez le domaine dans la sélection de l'espace.
  await page.locator("#scope-selection").selectOption("example.test");
  await page.locator("form.scope-select button").click();
  // 3. Naviguez vers Paramètres de sécurité > Continuity Service
  await expect(page).toHaveURL(/\/admin\/d\/example\.test\/continuity/);
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Continuity Service");
  await page.locator("h1[data-hydrated]").waitFor();
}

test.describe.configure({ mode: "serial" });

test("Ajouter des utilisateurs individuels au Continuity Service", async ({ page }) => {
  await connect(page, "fr");
  await selectDomainAndNavigate(page);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Paramètres de sécurité > Continuity Service");
  await expect(page.locator("#service")).toContainText("Le Continuity Service est un système standby.");
  // 4. Cochez la case Utilisateurs sélectionnés uniquement.
  await page.getByLabel("Utilisateurs sélectionnés uniquement").check();
  await page.locator("#scope").getByRole("button", { name: "Enregistrer" }).click();
  await expect(page.locator("#continuity-users h2")).toHaveText("Utilisateurs de Continuity Service");
  // 5. Dans Utilisateurs de Continuity Service, cliquez sur Ajouter.
  await page.locator("#open-add").click();
  await page.screenshot({ path: `${SHOTS}/illustration-2-ajouter-un-utilisateur.png`, fullPage: true });
  // 6. Sous Sélectionner utilisateur, saisissez l'adresse (3 caractères au moins)
  const input = page.getByLabel("Sélectionner utilisateur");
  await input.pressSequentially("al");
  await expect(page.locator("#suggestions")).toHaveCount(0);
  await input.pressSequentially("i");
  await expect(page.locator("#suggestions")).toContainText("alice@example.test");
  await page.screenshot({ path: `${SHOTS}/illustration-3-saisir-l-utilisateur.png`, fullPage: true });
  await page.locator("#suggestions button", { hasText: "alice@example.test" }).first().click();
  await expect(input).toHaveValue("alice@example.test");
  // 7. Cliquez sur Ajouter.
  await page.locator("#add-submit").click();
  // L'utilisateur est ajouté et apparaît dans le tableau.
  await expect(page.locator("#notice")).toContainText("L'utilisateur est ajouté et apparaît dans le tableau.");
  await expect(page.locator("#users-table")).toContainText("alice@example.test");
  // a second one, and the clear refusals
  await page.locator("#open-add").click();
  await page.getByLabel("Sélectionner utilisateur").fill("bob@example.test");
  await page.locator("#add-submit").click();
  await expect(page.locator("#users-table")).toContainText("bob@example.test");
  await page.locator("#open-add").click();
  await page.getByLabel("Sélectionner utilisateur").fill("bob@example.test");
  await page.locator("#add-submit").click();
  await expect(page.locator("#add-error")).toHaveText("Cet utilisateur figure déjà dans la liste.");
  // the refused form has settled before the next address is typed (else
  // the click could send the previous one again)
  const field = page.getByLabel("Sélectionner utilisateur");
  await expect(field).toBeEditable();
  // and hydrated: the page's code is a chunk of its own, fetched after the
  // main one; hydration sets the field's value from the page it rendered
  await page.locator("h1[data-hydrated]").waitFor();
  await field.fill("personne@example.test");
  await expect(field).toHaveValue("personne@example.test");
  await page.locator("#add-submit").click();
  await expect(page.locator("#add-error")).toHaveText("Aucun utilisateur de ce domaine n'a cette adresse.");
});

test("Exclure un utilisateur du Continuity Service", async ({ page }) => {
  await connect(page, "fr");
  await selectDomainAndNavigate(page);
  // 4. cliquez sur la croix à côté de l'utilisateur sous Éliminer utilisateur.
  await expect(page.locator("#users-table th").nth(1)).toHaveText("Éliminer utilisateur");
  await page.screenshot({ path: `${SHOTS}/illustration-4-supprimer-l-utilisateur.png`, fullPage: true });
  await page.getByRole("button", { name: "Éliminer utilisateur bob@example.test" }).click();
  await expect(page.locator("#notice")).toHaveText(
    "L'utilisateur est supprimé de la liste. Le Continuity Service n'est plus appliqué à l'utilisateur.",
  );
  await expect(page.locator("#users-table")).not.toContainText("bob@example.test");
  await expect(page.locator("#users-table")).toContainText("alice@example.test");
});

test("Ajouter tous les utilisateurs d'un domaine au Continuity Service", async ({ page }) => {
  await connect(page, "fr");
  await selectDomainAndNavigate(page);
  // 4. cochez la case Tous les utilisateurs — un message d'avertissement apparaît
  await page.getByLabel("Tous les utilisateurs").check();
  await page.locator("#scope").getByRole("button", { name: "Enregistrer" }).click();
  await expect(page.locator("#confirm-box")).toContainText(
    "Si vous passez de l'option Utilisateurs sélectionnés uniquement à l'option Tous les utilisateurs, tous les utilisateurs ajoutés précédemment sont supprimés.",
  );
  await page.screenshot({ path: `${SHOTS}/illustration-1-confirmer.png`, fullPage: true });
  // Annuler ne change rien
  await page.locator("#confirm-box").getByRole("link", { name: "Annuler" }).click();
  await expect(page.locator("#users-table")).toContainText("alice@example.test");
  // 5. cliquez sur Confirmer.
  await page.getByLabel("Tous les utilisateurs").check();
  await page.locator("#scope").getByRole("button", { name: "Enregistrer" }).click();
  await page.locator("#confirm-box").getByRole("button", { name: "Confirmer" }).click();
  // Le Continuity Service s'applique à tous les utilisateurs du domaine.
  await expect(page.locator("#notice")).toHaveText("Le Continuity Service s'applique à tous les utilisateurs du domaine.");
  await expect(page.locator("#continuity-users")).toHaveCount(0);
  await expect(page.locator("#audit")).toContainText("continuity.scope");
});

test("Désactiver puis activer le Continuity Service (avec confirmation)", async ({ page }) => {
  await connect(page, "fr");
  await selectDomainAndNavigate(page);
  await page.getByRole("button", { name: "Désactiver le Continuity Service" }).click();
  await expect(page.locator("#confirm-box")).toContainText("Désactiver le Continuity Service pour ce domaine ?");
  await page.locator("#confirm-box").getByRole("button", { name: "Confirmer" }).click();
  await expect(page.locator("#service-status")).toHaveText("Le Continuity Service est désactivé pour ce domaine.");
  await page.getByRole("button", { name: "Activer le Continuity Service" }).click();
  await page.locator("#confirm-box").getByRole("button", { name: "Confirmer" }).click();
  await expect(page.locator("#service-status")).toHaveText("Le Continuity Service est activé pour ce domaine.");
});

test("Activer le mot de passe d'urgence, tester la connexion", async ({ page }) => {
  await connect(page, "fr");
  await selectDomainAndNavigate(page);
  await expect(page.locator("#emergency-table")).toContainText("alice@example.test");
  await expect(page.locator('#emergency-table tr[data-user="alice@example.test"] td.status')).toHaveText("défini");
  await page.getByRole("button", { name: "Activer le mot de passe d'urgence" }).click();
  await expect(page.locator("#notice")).toContainText("Mot de passe d'urgence activé. Invitations envoyées :");
  await expect(page.getByRole("button", { name: "Désactiver le mot de passe d'urgence" })).toBeVisible();
  // resend one link: the user is now invited as well as set
  await page.getByRole("button", { name: "Renvoyer carol@example.test" }).click();
  await expect(page.locator("#notice")).toHaveText("Le lien a été renvoyé.");
  // the demo primary is not running: the test says so, with the reason
  await page.locator("#test-connection").click();
  await expect(page.locator("#tested")).toContainText("Le serveur principal n'accepte pas le courrier");
  // the probe's own words only behind the disclosure
  await expect(page.locator("#tested details summary")).toHaveText("détails");
  await page.screenshot({ path: `${SHOTS}/emergency-and-primary.png`, fullPage: true });
});

test("the same procedures in English", async ({ page }) => {
  await connect(page, "en");
  await selectDomainAndNavigate(page);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Security settings > Continuity Service");
  await page.getByLabel("Selected users only").check();
  await page.locator("#scope").getByRole("button", { name: "Save" }).click();
  await page.locator("#open-add").click();
  await page.getByLabel("Select user").pressSequentially("car");
  await page.locator("#suggestions button", { hasText: "carol@example.test" }).first().click();
  await page.locator("#add-submit").click();
  await expect(page.locator("#users-table")).toContainText("carol@example.test");
  await page.getByRole("button", { name: "Remove user carol@example.test" }).click();
  await expect(page.locator("#users-table")).toHaveCount(0);
  await page.getByLabel("All users").check();
  await page.locator("#scope").getByRole("button", { name: "Save" }).click();
  await expect(page.locator("#notice")).toHaveText("The Continuity Service applies to all users of the domain.");
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });
  test("add and remove a user with plain forms", async ({ page }) => {
    await page.goto("/login");
    await page.locator("input[name=address]").fill("admin@example.test");
    await page.locator("input[name=password]").fill(PASSWORD);
    await page.locator("form.stack button[type=submit]").click();
    await page.goto("/admin?domain=example.test");
    await expect(page).toHaveURL(/\/admin\/d\/example\.test\/continuity/);
    await page.getByLabel("Selected users only").check();
    await page.locator("#scope").getByRole("button", { name: "Save" }).click();
    await page.locator("#open-add").click();
    await page.getByLabel("Select user").fill("bob@example.test");
    await page.locator("#add-submit").click();
    await expect(page.locator("#users-table")).toContainText("bob@example.test");
    await page.getByRole("button", { name: "Remove user bob@example.test" }).click();
    await expect(page.locator("#users-table")).toHaveCount(0);
    await page.getByLabel("All users").check();
    await page.locator("#scope").getByRole("button", { name: "Save" }).click();
    await expect(page.locator("#notice")).toBeVisible();
  });
});

test("a mail user is sent away from the admin area", async ({ page }) => {
  await page.goto("/login");
  await page.locator("input[name=address]").fill("carol@example.test");
  await page.locator("input[name=password]").fill(PASSWORD);
  await page.locator("form.stack button[type=submit]").click();
  await expect(page).toHaveURL(/\/mail\/inbox/);
  await page.goto("/admin/d/example.test/continuity");
  await expect(page).toHaveURL(/\/login/);
});

test("le webhook se règle depuis le Control Panel, le secret affiché une fois", async ({ page }) => {
  await connect(page, "fr");
  await selectDomainAndNavigate(page);
  // the service's own network: refused, said in French
  await page.getByLabel("Adresse du récepteur (https://)").fill("https://10.0.0.7/hook");
  await page.getByRole("button", { name: "Enregistrer le webhook" }).click();
  await expect(page.locator("#webhook-error")).toHaveText(
    "Le webhook n'a pas été enregistré : 10.0.0.7 n'est pas une adresse publique : le service n'y envoie rien",
  );
  // the demo's operator allowed loopback for this domain's primary: saved
  await page.getByLabel("Adresse du récepteur (https://)").fill("https://127.0.0.1:9443/continuity");
  await page.getByRole("button", { name: "Enregistrer le webhook" }).click();
  await expect(page.locator("#notice")).toHaveText("Le webhook a été enregistré.");
  await expect(page.locator("#webhook-secret code")).toHaveText(/^\S{20,}$/);
  const secret = await page.locator("#webhook-secret code").textContent();
  await expect(page.locator("#webhook code")).toHaveText("https://127.0.0.1:9443/continuity");
  // shown once: not on the page any more
  await page.goto("/admin/d/example.test/continuity");
  await expect(page.locator("#webhook code")).toHaveText("https://127.0.0.1:9443/continuity");
  await expect(page.getByText(secret!)).toHaveCount(0);
  await page.getByRole("button", { name: "Supprimer le webhook" }).click();
  await expect(page.locator("#notice")).toHaveText("Le webhook a été supprimé.");
  await expect(page.locator("#webhook")).toHaveText("Aucun webhook : les changements d'état ne sont envoyés nulle part.");
});
