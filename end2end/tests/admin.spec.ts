// The team admin panel (/admin) and accepting an invitation (/invite), signed in as the install's
// owner: invite an agent and pass on the link; the agent joins from a signed-out browser and lands
// on the dashboard, sees the team but cannot manage it (and the server refuses when asked
// directly); the owner changes the agent's role and removes them; an API key is shown once,
// works with `Authorization: Bearer` until it is revoked; the audit log shows all of it.
import { expect, Locator, Page, test } from "@playwright/test";
import { OWNER, openHydrated, SIGNED_OUT } from "./helpers";

const run = Date.now().toString(36);
const AGENT = { email: `agent-${run}@example.test`, name: `Andy Agent ${run}`, password: "a long agent passphrase 42" };

function membersTable(page: Page): Locator {
  return page.getByRole("region", { name: "Members" });
}

function memberRow(page: Page, email: string): Locator {
  return membersTable(page).locator(`tr[data-member='${email}']`);
}

test.describe("team admin panel", () => {
  test("invite an agent, who joins and cannot manage the team; change their role, remove them", async ({
    page,
    browser,
    baseURL,
  }) => {
    await openHydrated(page, "/admin");
    await expect(page).toHaveTitle("Team · Switchboard");
    await expect(page.getByRole("navigation", { name: "Team sections" }).getByRole("link", { name: "← Calling" }))
      .toHaveAttribute("href", "/calling");

    // The only owner: no controls on that row, and the page says why.
    const ownerRow = memberRow(page, OWNER.email);
    await expect(ownerRow).toContainText(OWNER.display_name);
    await expect(ownerRow).toContainText("The last owner cannot be removed or demoted");
    await expect(ownerRow.getByRole("button")).toHaveCount(0);

    // A refused field sits under the email, and what was typed stays.
    const invite = page.getByRole("region", { name: "Invite someone" });
    await invite.getByLabel("Email").fill(OWNER.email);
    await invite.getByRole("button", { name: "Create invitation" }).click();
    await expect(invite.locator("#invite-email-error")).toContainText("already a member");
    await expect(invite.getByLabel("Email")).toHaveAttribute("aria-invalid", "true");
    await expect(invite.getByLabel("Email")).toHaveValue(OWNER.email);

    await invite.getByLabel("Email").fill(AGENT.email);
    await invite.getByLabel("Role").selectOption("agent");
    await invite.getByRole("button", { name: "Create invitation" }).click();
    const linkField = invite.getByLabel(`Invitation link for ${AGENT.email} (agent)`);
    await expect(linkField).toHaveValue(/\/invite\?token=[\w-]{20,}$/);
    const link = await linkField.inputValue();
    const pending = page.getByRole("region", { name: "Pending invitations" });
    await expect(pending.locator(`tr[data-invitation='${AGENT.email}']`)).toContainText("agent");

    // A fresh, signed-out browser: a bad link says so; the real one signs the agent in.
    const agentContext = await browser.newContext({ storageState: SIGNED_OUT, baseURL });
    const agent = await agentContext.newPage();
    await openHydrated(agent, "/invite?token=not-a-real-token");
    await agent.getByLabel("Password").fill(AGENT.password);
    await agent.getByRole("button", { name: "Join the workspace" }).click();
    await expect(agent.getByRole("alert")).toContainText("invalid, already used, revoked or expired");

    await openHydrated(agent, link);
    await expect(agent).toHaveTitle("Join your team · Switchboard");
    await agent.getByLabel("Your name").fill(AGENT.name);
    await agent.getByLabel("Password").fill("short");
    await agent.getByRole("button", { name: "Join the workspace" }).click();
    await expect(agent.getByRole("alert")).toContainText("at least 12 characters");
    await agent.getByLabel("Password").fill(AGENT.password);
    await agent.getByRole("button", { name: "Join the workspace" }).click();
    await expect(agent).toHaveURL(/\/calling$/);
    await expect(agent.getByLabel("Account")).toContainText(AGENT.name);
    await expect(agent.getByLabel("Account")).toContainText("· agent");

    // A used link is dead.
    const reused = await agentContext.request.post("/api/v1/invitations/accept", {
      data: { token: new URL(link).searchParams.get("token"), password: AGENT.password },
      headers: { Origin: baseURL! },
    });
    expect(reused.status()).toBe(401);

    // The agent sees the team, but no way to manage it, and no API keys or audit log.
    await openHydrated(agent, "/admin");
    await expect(agent.getByRole("note")).toContainText("Your role (agent) can see the team but not change it");
    await expect(memberRow(agent, AGENT.email)).toContainText("you");
    await expect(agent.getByRole("region", { name: "Invite someone" })).toHaveCount(0);
    await expect(agent.getByRole("region", { name: "Pending invitations" })).toHaveCount(0);
    await expect(membersTable(agent).getByRole("button")).toHaveCount(0);
    const agentNav = agent.getByRole("navigation", { name: "Team sections" });
    await expect(agentNav.getByRole("link", { name: "Members" })).toBeVisible();
    await expect(agentNav.getByRole("link", { name: "API keys" })).toHaveCount(0);
    await expect(agentNav.getByRole("link", { name: "Audit log" })).toHaveCount(0);
    await expect(agentNav.getByRole("link", { name: "Billing" })).toHaveCount(0);
    await agent.goto("/admin/api-keys");
    await expect(agent.getByRole("alert")).toContainText("your role (agent) does not allow this");
    await agent.goto("/admin/audit");
    await expect(agent.getByRole("alert")).toContainText("your role (agent) does not allow this");
    // …and the server refuses when asked directly, with the agent's own session.
    const sneaky = await agentContext.request.post("/api/v1/invitations", {
      data: { email: `friend-${run}@example.test`, role: "admin" },
      headers: { Origin: baseURL! },
    });
    expect(sneaky.status()).toBe(403);

    // The owner makes the agent a viewer, then removes them after confirming.
    await openHydrated(page, "/admin");
    await expect(pending.locator(`tr[data-invitation='${AGENT.email}']`)).toHaveCount(0);
    const agentRow = memberRow(page, AGENT.email);
    await expect(agentRow).toContainText("agent");
    await agentRow.getByLabel(`Role of ${AGENT.name}`).selectOption("viewer");
    await agentRow.getByRole("button", { name: "Change role" }).click();
    await expect(page.getByRole("status").filter({ hasText: `${AGENT.name} is now viewer.` })).toBeVisible();
    await expect(memberRow(page, AGENT.email).locator(".badge.role")).toHaveText("viewer");

    await memberRow(page, AGENT.email).getByRole("button", { name: "Remove" }).click();
    const confirm = page.getByRole("group", { name: `Confirm removing ${AGENT.name}` });
    await expect(confirm).toContainText("They lose access to this workspace at once");
    await confirm.getByRole("button", { name: "Cancel" }).click();
    await expect(memberRow(page, AGENT.email)).toBeVisible();
    await memberRow(page, AGENT.email).getByRole("button", { name: "Remove" }).click();
    await confirm.getByRole("button", { name: "Remove from workspace" }).click();
    await expect(page.getByRole("status").filter({ hasText: `${AGENT.name} was removed` })).toBeVisible();
    await expect(memberRow(page, AGENT.email)).toHaveCount(0);

    // The removed agent's session no longer reaches the workspace's team.
    const afterRemoval = await agentContext.request.get("/api/v1/members");
    expect(afterRemoval.status()).toBe(403);
    await agentContext.close();

    // A second invitation, revoked after confirming: its link stops working.
    const other = `other-${run}@example.test`;
    await invite.getByLabel("Email").fill(other);
    await invite.getByLabel("Role").selectOption("viewer");
    await invite.getByRole("button", { name: "Create invitation" }).click();
    const otherLink = await invite.getByLabel(`Invitation link for ${other} (viewer)`).inputValue();
    await pending.locator(`tr[data-invitation='${other}']`).getByRole("button", { name: "Revoke" }).click();
    await page
      .getByRole("group", { name: `Confirm revoking the invitation for ${other}` })
      .getByRole("button", { name: "Revoke invitation" })
      .click();
    await expect(pending.locator(`tr[data-invitation='${other}']`)).toHaveCount(0);
    const revoked = await page.request.post("/api/v1/invitations/accept", {
      data: { token: new URL(otherLink).searchParams.get("token"), password: "another long passphrase" },
      headers: { Origin: baseURL! },
    });
    expect(revoked.status()).toBe(401);
  });

  test("an API key is shown once, works with Authorization: Bearer, and stops working when revoked", async ({
    page,
    playwright,
    baseURL,
  }) => {
    const name = `CRM ${run}`;
    await openHydrated(page, "/admin/api-keys");
    await expect(page).toHaveTitle("API keys · Switchboard");
    const form = page.getByRole("region", { name: "Create a key" });

    // A blank name is refused next to the field (the browser's own check is bypassed).
    await form.getByLabel("Name").evaluate((input) => input.removeAttribute("required"));
    await form.getByLabel("Name").fill("   ");
    await form.getByRole("button", { name: "Create key" }).click();
    await expect(form.locator("#key-name-error")).toHaveText("an API key needs a name");

    await form.getByLabel("Name").fill(name);
    await form.getByLabel("Role").selectOption("viewer");
    await form.getByRole("button", { name: "Create key" }).click();
    const shown = form.getByLabel(`New key “${name}” (viewer)`);
    await expect(shown).toHaveValue(/^sb_live_[0-9a-f]{12}_[\w-]+$/);
    await expect(form).toContainText("it will not be shown again");
    const key = await shown.inputValue();
    const prefix = key.split("_").slice(0, 3).join("_");
    const row = page.locator(`tr[data-key='${name}']`);
    await expect(row).toContainText(prefix);
    await expect(row).toContainText("viewer");
    await expect(row).toContainText("Active");

    // Curl-style: no cookies, only the key.
    const api = await playwright.request.newContext({ baseURL, storageState: SIGNED_OUT });
    const bearer = { Authorization: `Bearer ${key}` };
    const overview = await api.get("/api/v1/app/calling/overview", { headers: bearer });
    expect(overview.status(), await overview.text()).toBe(200);
    const me = await api.get("/api/v1/me", { headers: bearer });
    expect((await me.json()).role).toBe("viewer");

    // Shown once: after a reload only the prefix remains, now with its last use.
    await openHydrated(page, "/admin/api-keys");
    await expect(page.getByLabel(`New key “${name}” (viewer)`)).toHaveCount(0);
    expect(await page.content()).not.toContain(key);
    await expect(row).not.toContainText("Never");

    await row.getByRole("button", { name: "Revoke" }).click();
    await page.getByRole("group", { name: `Confirm revoking ${name}` }).getByRole("button", { name: "Revoke key" }).click();
    await expect(page.getByRole("status").filter({ hasText: `Revoked ${name}` })).toBeVisible();
    await expect(row).toContainText("Revoked");
    await expect(row.getByRole("button", { name: "Revoke" })).toHaveCount(0);
    const afterRevoke = await api.get("/api/v1/app/calling/overview", { headers: bearer });
    expect(afterRevoke.status()).toBe(401);
    await api.dispose();
  });

  test("the audit log shows the team's actions, newest first, filtered by action", async ({ page }) => {
    await openHydrated(page, "/admin/audit");
    await expect(page).toHaveTitle("Audit log · Switchboard");
    const table = page.locator("table.audit");
    for (const action of [
      "member.invited",
      "invitation.accepted",
      "member.role_changed",
      "member.removed",
      "invitation.revoked",
      "api_key.created",
      "api_key.revoked",
    ]) {
      await expect(table.locator(`tr[data-action='${action}']`).first()).toBeVisible();
    }
    await expect(table.locator("tr[data-action='member.role_changed']").first()).toContainText("from: agent, to: viewer");
    await expect(table.locator("tr[data-action='api_key.created']").first()).toContainText(OWNER.display_name);
    // Changes made from the panel record where they came from, like the REST API's.
    await expect(table.locator("tr[data-action='member.role_changed']").first()).toContainText("127.0.0.1");
    // Newest first: the key was revoked after it was created.
    const actions = await table.locator("tbody tr").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-action")));
    expect(actions.indexOf("api_key.revoked")).toBeLessThan(actions.indexOf("api_key.created"));

    await page.getByLabel("Action").selectOption("api_key.created");
    await page.getByRole("button", { name: "Show" }).click();
    await expect(page).toHaveURL(/\/admin\/audit\?action=api_key\.created$/);
    await expect(table.locator("tbody tr").first()).toHaveAttribute("data-action", "api_key.created");
    const filtered = await table.locator("tbody tr").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-action")));
    expect(new Set(filtered)).toEqual(new Set(["api_key.created"]));
  });
});
