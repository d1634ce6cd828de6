import { expect, Locator, Page, test } from "@playwright/test";
import { openHydrated } from "./helpers";

// /calling/templates on a fresh install, signed in as the owner. The sandbox simulator plays
// WhatsApp: it approves templates at once, and sends from the sandbox number are free (billing
// skips sandbox numbers, so the new install's empty wallet does not matter). The simulator keeps
// every template it ever accepted, so names carry this run's suffix.
const run = Date.now().toString(36);

function row(page: Page, name: string): Locator {
  return page.getByRole("region", { name: "Your templates" }).locator(`tr[data-template='${name}']`);
}

/** Chooses `name` in the send form's template list (options read "name (kind…)"). */
async function chooseTemplate(send: Locator, name: string) {
  const select = send.getByLabel("Template");
  const value = await select.locator("option", { hasText: `${name} (` }).getAttribute("value");
  await select.selectOption(value!);
}

test.describe("templates page", () => {
  test("call-button templates: a refused field, creation, default, set default, delete after confirming", async ({
    page,
  }) => {
    await openHydrated(page, "/calling/templates");
    await expect(page).toHaveTitle("Templates · Switchboard");
    const form = page.getByRole("form", { name: "New call-button template" });
    const first = `support_cb_${run}`;
    const second = `sales_cb_${run}`;

    // A 21-character label: the refusal sits under the label field, and what was typed stays.
    await form.getByLabel("Name").fill(first);
    await form.getByLabel("Button label").fill("Call our support team");
    await form.getByRole("button", { name: "Submit to WhatsApp" }).click();
    const label = form.getByLabel("Button label");
    await expect(label).toHaveAttribute("aria-invalid", "true");
    await expect(form.locator("#cb-label-error")).toHaveText("is 21 characters; at most 20");
    await expect(label).toHaveAccessibleDescription(/is 21 characters; at most 20/);
    await expect(form.getByLabel("Name")).toHaveValue(first);
    await expect(row(page, first)).toHaveCount(0);

    // Fixed: WhatsApp (the simulator) approves it, and the first call button is the default.
    await label.fill("Call support");
    await form.getByLabel("Message").fill("Hi {{1}}, tap below to talk to us about order {{2}}.");
    await form.getByLabel("Examples for the variables").fill("Asha\nORD-1024");
    await form.getByRole("button", { name: "Submit to WhatsApp" }).click();
    await expect(page.getByRole("region", { name: "New call-button template" }).getByRole("status")).toHaveText(
      `Created ${first}: approved. It is the default of its kind.`,
    );
    await expect(label).toHaveAttribute("aria-invalid", "false");
    await expect(form.getByLabel("Name")).toHaveValue("");
    const firstRow = row(page, first);
    await expect(firstRow).toContainText("Call button");
    await expect(firstRow).toContainText("Approved");
    await expect(firstRow).toContainText("“Call support” calls you on WhatsApp");
    await expect(firstRow.getByText("Default", { exact: true })).toBeVisible();

    // A second one dials a phone number and is not the default.
    await form.getByLabel("Name").fill(second);
    await form.getByLabel("What the button does").selectOption("phone_number");
    await form.getByLabel("Phone number to dial").fill("+1 415 555 0100");
    await form.getByRole("button", { name: "Submit to WhatsApp" }).click();
    const secondRow = row(page, second);
    await expect(secondRow).toContainText("“Call Now” dials +14155550100");
    await expect(secondRow.getByText("Default", { exact: true })).toHaveCount(0);

    // Set default moves the badge.
    await secondRow.getByRole("button", { name: "Set as default" }).click();
    await expect(secondRow.getByText("Default", { exact: true })).toBeVisible();
    await expect(firstRow.getByText("Default", { exact: true })).toHaveCount(0);
    await expect(firstRow.getByRole("button", { name: "Set as default" })).toBeVisible();

    // Delete asks first; Cancel keeps the template.
    await firstRow.getByRole("button", { name: "Delete", exact: true }).click();
    const confirm = firstRow.getByRole("group", { name: `Confirm deleting ${first}` });
    await expect(confirm).toContainText(`Delete ${first}?`);
    await expect(confirm.getByRole("button", { name: "Delete for good" })).toBeFocused();
    await confirm.getByRole("button", { name: "Cancel" }).click();
    await expect(confirm).toHaveCount(0);
    await expect(firstRow).toBeVisible();

    await firstRow.getByRole("button", { name: "Delete", exact: true }).click();
    await firstRow.getByRole("button", { name: "Delete for good" }).click();
    await expect(firstRow).toHaveCount(0);
    await expect(secondRow).toBeVisible();

    // After a reload (server-rendered), the list is the same.
    await openHydrated(page, "/calling/templates");
    await expect(row(page, first)).toHaveCount(0);
    await expect(row(page, second).getByText("Default", { exact: true })).toBeVisible();
  });

  test("a call-button send: refused number, then sent free from the sandbox number", async ({ page }) => {
    await openHydrated(page, "/calling/templates");
    const form = page.getByRole("form", { name: "New call-button template" });
    const name = `order_update_${run}`;
    await form.getByLabel("Name").fill(name);
    await form.getByLabel("Message").fill("Hi {{1}}, your order is ready. Tap to call us.");
    await form.getByLabel("Examples for the variables").fill("Asha");
    await form.getByRole("button", { name: "Submit to WhatsApp" }).click();
    await expect(row(page, name)).toContainText("Approved");

    // Sending is the section's other page: the tab gets there without reloading.
    await page.getByRole("navigation", { name: "Templates" }).getByRole("link", { name: "Send and share" }).click();
    await expect(page).toHaveURL(/\/calling\/templates\/send$/);
    await expect(page.getByRole("link", { name: "Templates", exact: true })).toHaveAttribute("aria-current", "page");
    const send = page.getByRole("form", { name: "Send a template" });
    await chooseTemplate(send, name);
    await send.getByLabel("WhatsApp number").fill("12");
    await send.getByLabel("Value for {{1}}").fill("Asha");
    await send.getByRole("button", { name: "Send" }).click();
    await expect(send.getByLabel("WhatsApp number")).toHaveAttribute("aria-invalid", "true");
    await expect(send.locator("#send-to-error")).toContainText('"12"');

    await send.getByLabel("WhatsApp number").fill("+91 98765 40001");
    await send.getByLabel("Button payload").fill(`lead-${run}`);
    await send.getByRole("button", { name: "Send" }).click();
    const sent = page.getByRole("region", { name: "Send a template" }).getByRole("status");
    await expect(sent).toContainText(`Sent ${name} to +919876540001. Free: sandbox numbers cost nothing.`);
    await expect(sent).toContainText("wamid.");
    await expect(send.getByLabel("WhatsApp number")).toHaveAttribute("aria-invalid", "false");
  });

  test("permission templates: a refused field, the first is default, a second request is refused", async ({ page }) => {
    await openHydrated(page, "/calling/templates");
    const form = page.getByRole("form", { name: "New permission template" });
    const first = `may_we_call_${run}`;
    const second = `call_consent_${run}`;

    // A variable without its example: refused next to the examples field.
    await form.getByLabel("Name").fill(first);
    await form.getByLabel("Header").fill("A quick question");
    await form.getByLabel("Message").fill("May we call you about order {{1}}?");
    await form.getByRole("button", { name: "Submit to WhatsApp" }).click();
    await expect(form.getByLabel("Examples for the variables")).toHaveAttribute("aria-invalid", "true");
    await expect(form.locator("#pm-examples-error")).toContainText("needs exactly one example for each, got 0");

    await form.getByLabel("Examples for the variables").fill("ORD-1024");
    await form.getByRole("button", { name: "Submit to WhatsApp" }).click();
    const firstRow = row(page, first);
    await expect(firstRow).toContainText("Permission request");
    await expect(firstRow).toContainText("Approved");
    await expect(firstRow.getByText("Default", { exact: true })).toBeVisible();

    await form.getByLabel("Name").fill(second);
    await form.getByLabel("Message").fill("Can we call you on WhatsApp?");
    await form.getByRole("button", { name: "Submit to WhatsApp" }).click();
    const secondRow = row(page, second);
    await expect(secondRow).toContainText("Approved");
    await expect(secondRow.getByText("Default", { exact: true })).toHaveCount(0);
    await secondRow.getByRole("button", { name: "Set as default" }).click();
    await expect(secondRow.getByText("Default", { exact: true })).toBeVisible();
    await expect(firstRow.getByText("Default", { exact: true })).toHaveCount(0);

    // The same name again: WhatsApp already has it, said under the name field.
    await form.getByLabel("Name").fill(first);
    await form.getByLabel("Message").fill("Again?");
    await form.getByRole("button", { name: "Submit to WhatsApp" }).click();
    await expect(form.locator("#pm-name-error")).toContainText(`a template named ${first} in en_US already exists`);

    // A permission request to a customer goes out (free on the sandbox number) …
    const customer = "+44 7700 900777";
    await page.getByRole("link", { name: "Send and share" }).click();
    const send = page.getByRole("form", { name: "Send a template" });
    await chooseTemplate(send, first);
    await send.getByLabel("WhatsApp number").fill(customer);
    await send.getByLabel("Value for {{1}}").fill("ORD-1024");
    await send.getByRole("button", { name: "Send" }).click();
    const panel = page.getByRole("region", { name: "Send a template" });
    await expect(panel.getByRole("status")).toContainText(`Sent ${first} to +447700900777. Free`);

    // … and a second one the same day hits WhatsApp's limit of one request per person per day.
    await send.getByRole("button", { name: "Send" }).click();
    await expect(panel.getByRole("alert")).toContainText(
      "Not sent: The call permission request limit for this contact is reached (Meta error 138009); try again after",
    );
    await expect(panel.getByRole("status")).toHaveCount(0);
  });
  test("a wa.me/call link with a payload and its QR code, for the sandbox number", async ({ page }) => {
    await openHydrated(page, "/calling/templates/send");
    const card = page.getByRole("region", { name: "Call link and QR code" });
    // The sandbox number is the workspace's first.
    await card.getByLabel("Number").selectOption({ index: 0 });
    await card.getByLabel("Payload (optional)").fill(`poster lobby ${run}`);
    await card.getByRole("button", { name: "Make the link" }).click();
    const link = card.getByRole("textbox", { name: "Call link" });
    await expect(link).toHaveValue(new RegExp(`^https://wa\\.me/call/\\d+\\?biz_payload=poster%20lobby%20${run}$`));
    const qr = card.getByRole("img", { name: "QR code of the call link" }).locator("svg");
    await expect(qr).toBeVisible();
    expect(await qr.locator("path").count()).toBe(1);
    const download = card.getByRole("link", { name: "Download the QR code (SVG)" });
    await expect(download).toHaveAttribute("href", /^data:image\/svg\+xml;charset=utf-8,%3Csvg /);
    await expect(download).toHaveAttribute("download", "whatsapp-call-link.svg");
    // The same link as the REST API makes it.
    const api = await (await page.request.get(`/api/v1/app/calling/deep-link?payload=poster%20lobby%20${run}`)).json();
    await expect(link).toHaveValue(api.url);
  });
});
