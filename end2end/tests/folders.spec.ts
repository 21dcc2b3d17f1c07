import { test, expect, Page } from "@playwright/test";

// The user's own folders (Dossiers), the same ones mail apps see over
// IMAP: make a folder with a level, a name refused, a message moved into
// it and found there, the folder renamed with the message kept, a parent
// refused while it has a subfolder, then both deleted after confirming.
// Bob files a note he sends himself (the demo messages stay where they
// are: the other specs read them).
const DEMO_PASSWORD = "lantern-orchid-2026";

async function logIn(page: Page, address: string) {
  await page.goto("/lang/fr?next=/login");
  await page.getByLabel("Adresse e-mail").fill(address);
  await page.getByLabel(/^Mot de passe$/).fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "Se connecter" }).click();
  await expect(page).toHaveURL(/\/mail\/inbox/);
  await page.locator("h1[data-hydrated]").waitFor();
}

test("Créer un dossier, y déplacer un message, le renommer, le supprimer", async ({ page }) => {
  await logIn(page, "bob@example.test");
  await page.locator("#nav-folders").click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Dossiers");
  await expect(page.locator("#folders-note")).toContainText("l'archive conserve chaque message");
  await expect(page.locator("#folders-empty")).toBeVisible();

  await page.getByLabel("Nouveau dossier").fill("Projets/2027");
  await page.locator("#folder-create-submit").click();
  await expect(page.locator("#notice")).toHaveText("Le dossier a été créé.");
  await expect(page.locator("nav.folders a[data-folder='Projets']")).toBeVisible();
  await expect(page.locator("nav.folders a[data-folder='Projets/2027']")).toHaveText("2027");

  // refused names say why, in French, and keep what was typed
  await page.getByLabel("Nouveau dossier").fill("Projets");
  await page.locator("#folder-create-submit").click();
  await expect(page.locator("#error")).toHaveText("Un dossier de ce nom existe déjà.");
  await expect(page.getByLabel("Nouveau dossier")).toHaveValue("Projets");
  await page.getByLabel("Nouveau dossier").fill("Sent/Vieux");
  await page.locator("#folder-create-submit").click();
  await expect(page.locator("#error")).toContainText("sont les dossiers du service");

  // a note to himself, moved from the Inbox into the folder
  await page.goto("/mail/compose");
  await page.locator("#compose-to").fill("bob@example.test");
  await page.locator("#compose-subject").fill("Note à classer");
  await page.locator("#compose-body").fill("pour le dossier");
  await page.locator("#compose-send").click();
  await expect(page.locator("#sent-notice")).toBeVisible();
  await page.goto("/mail/inbox");
  await page.getByRole("link", { name: /Note à classer/ }).click();
  await page.locator("#move-to").selectOption({ label: "Projets/2027" });
  await page.locator("#move-submit").click();
  await expect(page).toHaveURL(/\/mail\/inbox\?done=moved$/);
  await expect(page.locator("#notice")).toHaveText("Le message a été déplacé.");
  await expect(page.locator("#mail-list")).not.toContainText("Note à classer");
  await page.locator("nav.folders a[data-folder='Projets/2027']").click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Projets/2027");
  await expect(page.locator("#mail-list")).toContainText("Note à classer");

  // renamed: the message stays in it
  await page.goto("/mail/folders");
  const row = page.locator("#folder-list tr[data-folder='Projets/2027']");
  await row.locator("input[name=name]").fill("Projets/2028");
  await row.getByRole("button", { name: "Renommer" }).click();
  await expect(page.locator("#notice")).toHaveText("Le dossier a été renommé.");
  await page.locator("nav.folders a[data-folder='Projets/2028']").click();
  await expect(page.locator("#mail-list")).toContainText("Note à classer");

  // a parent with a subfolder cannot go; the leaf goes after confirming
  // (cancel first keeps it), then the parent
  await page.goto("/mail/folders");
  await page.locator("#folder-list tr[data-folder='Projets'] a.delete").click();
  await page.locator("#delete-confirm").click();
  await expect(page.locator("#error")).toHaveText(
    "Ce dossier contient des sous-dossiers : supprimez-les d'abord.",
  );
  await page.locator("#folder-list tr[data-folder='Projets/2028'] a.delete").click();
  await expect(page.locator("#confirm-text")).toHaveText(
    "Supprimer ce dossier ? Ses messages quittent votre boîte ; l'archive les conserve.",
  );
  await page.locator("#confirm-box").getByRole("link", { name: "Annuler" }).click();
  await expect(page.locator("#folder-list tr[data-folder='Projets/2028']")).toBeVisible();
  await page.locator("#folder-list tr[data-folder='Projets/2028'] a.delete").click();
  await page.locator("#delete-confirm").click();
  await expect(page.locator("#notice")).toHaveText("Le dossier a été supprimé.");
  await page.locator("#folder-list tr[data-folder='Projets'] a.delete").click();
  await page.locator("#delete-confirm").click();
  await expect(page.locator("#notice")).toHaveText("Le dossier a été supprimé.");
  await expect(page.locator("#folders-empty")).toBeVisible();
  await expect(page.locator("nav.folders a.sub")).toHaveCount(0);
});
