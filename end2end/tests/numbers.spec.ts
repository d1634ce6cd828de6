// The admin panel's WhatsApp numbers, workspace profile and account sections, and the
// forgot/reset password pages, signed in as the install's owner against the sandbox:
// - numbers: the sandbox number's connection is tested against the simulator; a number is
//   connected with the form checked as you type (and by the server), its connection test shows
//   WhatsApp's refusal in plain words with Meta's code, and it is edited with its secrets kept;
// - the workspace is renamed (a bad name refused next to the field) and the top bar follows;
// - a teammate who forgot their password asks for a link, the link (from the sandbox server's
//   log, where sandbox mode writes it) sets a new one checked as typed, and they sign in with it.
import { expect, Page, test } from "@playwright/test";
import { readFileSync } from "node:fs";
import { openHydrated, OWNER_STATE, SIGNED_OUT, HYDRATION_TIMEOUT } from "./helpers";

const run = Date.now().toString(36);
// Digits only, distinct per run (Meta ids), and a UK test number (Ofcom's drama range).
const PHONE_NUMBER_ID = `1${Date.now()}`.slice(0, 15);
const DISPLAY = `+44 7700 900${(Date.now() % 900 + 100).toString()}`;
// How the panel shows it once connected: E.164.
const E164 = DISPLAY.replace(/ /g, "");

function numbersTable(page: Page) {
  return page.getByRole("region", { name: "Connected numbers" });
}

test.describe("WhatsApp numbers, workspace and passwords", () => {
  test("test the sandbox number, connect a number checked as you type, see WhatsApp's refusal, edit it", async ({
    page,
    baseURL,
  }) => {
    await openHydrated(page, "/admin/numbers");
    await expect(page).toHaveTitle("WhatsApp numbers · Switchboard");

    // The sandbox number works, and is Switchboard's own: it has no Edit button.
    const sandboxRow = numbersTable(page).locator("tr", { has: page.locator(".badge.sandbox") });
    await expect(sandboxRow).toHaveCount(1);
    await expect(sandboxRow.getByRole("button", { name: "Edit" })).toHaveCount(0);
    await sandboxRow.getByRole("button", { name: "Test connection" }).click();
    await expect(page.getByRole("status").filter({ hasText: "the connection works" })).toContainText(
      "WhatsApp reports calling",
    );

    // Checked as you type: a problem shows once the field is left, and blocks the submit.
    const connect = page.getByRole("region", { name: "Connect a number" });
    const waba = connect.getByLabel("WhatsApp Business Account ID");
    await waba.fill("12ab");
    await waba.blur();
    await expect(connect.locator("#connect-waba_id-error")).toContainText("digits only");
    await expect(waba).toHaveAttribute("aria-invalid", "true");
    await connect.getByRole("button", { name: "Connect number" }).click();
    await expect(connect.locator("#connect-phone_number_id-error")).toContainText("digits only");
    await expect(connect.locator("#connect-access_token-error")).not.toBeEmpty();
    await expect(numbersTable(page).locator(`tr[data-number='${E164}']`)).toHaveCount(0);

    // The server's word on a field shows under it too, and what was typed stays: the sandbox's
    // own phone number id is taken.
    const sandboxId = (await sandboxRow.locator("td code").first().textContent())!.trim();
    await connect.getByLabel("Phone number ID").fill(sandboxId);
    await waba.fill("200000000000001");
    await connect.getByLabel("Display number").fill(DISPLAY);
    await connect.getByLabel("Access token").fill(`EAAG-not-valid-${run}`);
    await connect.getByLabel("App secret").fill(`app-secret-${run}`);
    await connect.getByLabel("Webhook verify token").fill(`verify-${run}`);
    // The sandbox's own Graph API: it answers like Meta, so a token it does not know is refused.
    await connect.getByLabel("Graph API base URL").fill(`${baseURL}/sandbox/graph`);
    await connect.getByRole("button", { name: "Connect number" }).click();
    await expect(connect.locator("#connect-phone_number_id-error")).not.toBeEmpty();
    await expect(connect.getByLabel("Display number")).toHaveValue(DISPLAY);

    await connect.getByLabel("Phone number ID").fill(PHONE_NUMBER_ID);
    await connect.getByRole("button", { name: "Connect number" }).click();
    await expect(connect.getByRole("status")).toContainText("Connected");
    const row = numbersTable(page).locator(`tr[data-number='${E164}']`);
    await expect(row).toContainText("GB");
    await expect(row).toContainText("200000000000001");
    await expect(row.locator(".badge.active")).toHaveText("WhatsApp");
    // Secrets are never shown again, anywhere on the page.
    await expect(page.locator("body")).not.toContainText(`app-secret-${run}`);
    await expect(connect.getByLabel("Access token")).toHaveValue("");

    // WhatsApp refuses the token: the page says so in plain words, with Meta's code.
    await row.getByRole("button", { name: "Test connection" }).click();
    const refusal = page.locator(".connection-test[role='alert']");
    await expect(refusal).toContainText("the connection failed (Meta error 190)");
    await expect(refusal).toContainText("access token");

    // Edit: the id is fixed, blank secrets are kept, a bad field is refused before saving.
    await row.getByRole("button", { name: "Edit" }).click();
    const edit = page.getByRole("region", { name: `Edit ${E164}` });
    await expect(edit.getByLabel("Phone number ID")).toHaveAttribute("readonly", "");
    await expect(edit.getByLabel("Access token")).toHaveValue("");
    await edit.getByLabel("WhatsApp Business Account ID").fill("x");
    await edit.getByRole("button", { name: "Save changes" }).click();
    await expect(edit.locator("#edit-waba_id-error")).toContainText("digits only");
    await edit.getByLabel("WhatsApp Business Account ID").fill("200000000000002");
    await edit.getByLabel("Graph API version").fill("v24.0");
    await edit.getByRole("button", { name: "Save changes" }).click();
    await expect(page.getByRole("status").filter({ hasText: `Saved the changes to ${E164}` })).toBeVisible();
    await expect(edit).toHaveCount(0);
    await expect(row).toContainText("200000000000002");
    await expect(row).toContainText("v24.0");

    // The same after a reload (stored, not just shown), and the refusal is unchanged: the
    // token was kept.
    await openHydrated(page, "/admin/numbers");
    await expect(row).toContainText("200000000000002");
    await row.getByRole("button", { name: "Test connection" }).click();
    await expect(page.locator(".connection-test[role='alert']")).toContainText("Meta error 190");

    // Both changes are in the audit log.
    await openHydrated(page, "/admin/audit");
    const log = page.getByRole("table");
    await expect(log).toContainText("number.connected");
    await expect(log).toContainText("number.updated");
  });

  test("rename the workspace: a bad name is refused by the field, a good one shows in the top bar", async ({
    page,
    browser,
  }) => {
    await openHydrated(page, "/admin/workspace");
    const name = page.getByLabel("Name", { exact: true });
    const original = await name.inputValue();
    await name.fill("   ");
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.locator("#workspace-name-error")).not.toBeEmpty();
    await expect(name).toHaveAttribute("aria-invalid", "true");

    const renamed = `Acme Support ${run}`;
    await name.fill(renamed);
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByRole("status").filter({ hasText: `now called ${renamed}` })).toBeVisible();
    await openHydrated(page, "/calling");
    await expect(page.getByLabel("Account")).toContainText(renamed);

    // Without JavaScript the form is an ordinary POST to its server function, which sends the
    // browser back to the page.
    const noScript = await browser.newContext({ javaScriptEnabled: false, storageState: OWNER_STATE });
    const plain = await noScript.newPage();
    await plain.goto("/admin/workspace");
    const withoutJs = `${renamed} without JS`;
    await plain.getByLabel("Name", { exact: true }).fill(withoutJs);
    const posted = plain.waitForResponse((response) => response.request().method() === "POST");
    await plain.getByRole("button", { name: "Save" }).click();
    const answer = await posted;
    expect(answer.status()).toBe(302);
    expect(answer.headers()["location"]).toContain("/admin/workspace");
    await plain.waitForLoadState("load");
    await plain.goto("/admin/workspace");
    await expect(plain.getByLabel("Name", { exact: true })).toHaveValue(withoutJs);
    await expect(plain.getByLabel("Account")).toContainText(withoutJs);
    await noScript.close();

    // Put it back for the other tests.
    await openHydrated(page, "/admin/workspace");
    await page.getByLabel("Name", { exact: true }).fill(original);
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByRole("status").filter({ hasText: `now called ${original}` })).toBeVisible();
  });

  test("a teammate who forgot their password sets a new one from the emailed link and signs in", async ({
    page,
    browser,
    baseURL,
  }) => {
    const serverLog = process.env.SERVER_LOG;
    test.skip(!serverLog, "needs SERVER_LOG: the sandbox server's log, where reset links are written");
    const teammate = { email: `forgetful-${run}@example.test`, password: "the first long passphrase 1" };
    const origin = { Origin: baseURL! };
    // Invited and joined through the API (the invitation flow has its own spec).
    const invited = await page.request.post("/api/v1/invitations", {
      data: { email: teammate.email, role: "agent" },
      headers: origin,
    });
    expect(invited.status(), await invited.text()).toBe(201);
    const token = (await invited.json()).token;
    const context = await browser.newContext({ storageState: SIGNED_OUT, baseURL });
    const joined = await context.request.post("/api/v1/invitations/accept", {
      data: { token, password: teammate.password },
      headers: origin,
    });
    expect(joined.status(), await joined.text()).toBe(200);
    await context.clearCookies();

    const forgetful = await context.newPage();
    await openHydrated(forgetful, "/login");
    await forgetful.getByRole("link", { name: /forgot/i }).click();
    await expect(forgetful).toHaveURL(/\/forgot-password$/);
    await expect(forgetful.locator("[data-hydrated='true']")).toBeVisible({ timeout: HYDRATION_TIMEOUT });
    await forgetful.getByLabel("Email").fill(teammate.email);
    await forgetful.getByRole("button", { name: "Send the reset link" }).click();
    await expect(forgetful.getByRole("status")).toContainText("a link to choose a new password is on its way");

    // Sandbox mode writes the link to the server log instead of sending an email.
    let link = "";
    await expect
      .poll(() => {
        const lines = readFileSync(serverLog!, "utf8").split("\n").filter((line) => line.includes(teammate.email));
        link = lines.map((line) => line.match(/https?:\/\/\S+\/reset-password\?token=[\w-]+/)?.[0] ?? "").pop() ?? "";
        return link;
      })
      .not.toBe("");

    await openHydrated(forgetful, new URL(link).pathname + new URL(link).search);
    const password = forgetful.locator("input[name=new_password]");
    const repeat = forgetful.locator("input[name=repeat_password]");
    await password.fill("short");
    await expect(forgetful.locator("#new-password-error")).toContainText("at least 12 characters");
    await expect(password).toHaveAttribute("aria-invalid", "true");
    const fresh = "a brand new long passphrase 2";
    await password.fill(fresh);
    await repeat.fill(fresh + "x");
    await expect(forgetful.locator("#new-password-error")).toContainText("differ");
    await repeat.fill(fresh);
    await expect(forgetful.locator("#new-password-error")).toBeEmpty();
    await forgetful.getByRole("button", { name: "Set the new password" }).click();
    await expect(forgetful.getByRole("status")).toContainText("Your new password is set");

    // The link worked once; the old password is gone, the new one signs in.
    await openHydrated(forgetful, new URL(link).pathname + new URL(link).search);
    await password.fill("yet another long passphrase 3");
    await repeat.fill("yet another long passphrase 3");
    await forgetful.getByRole("button", { name: "Set the new password" }).click();
    await expect(forgetful.getByRole("alert")).toContainText("invalid, already used or expired");
    const old = await context.request.post("/api/v1/login", {
      data: { email: teammate.email, password: teammate.password },
      headers: origin,
    });
    expect(old.status()).toBe(401);
    await openHydrated(forgetful, "/login");
    await forgetful.getByLabel("Email").fill(teammate.email);
    await forgetful.getByLabel("Password").fill(fresh);
    await forgetful.getByRole("button", { name: "Sign in" }).click();
    await expect(forgetful).toHaveURL(/\/calling$/);
    await expect(forgetful.getByLabel("Account")).toContainText("· agent");
    await context.close();
  });
});
