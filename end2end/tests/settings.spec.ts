import { APIRequestContext, expect, test } from "@playwright/test";
import { openHydrated } from "./helpers";

// /calling/settings on a fresh install, signed in as the owner, on the sandbox number. The
// simulator plays WhatsApp: it checks settings by Meta's rules, keeps what it accepts and reports
// it back on GET. Call hours it keeps also decide whether sandbox calls ring, so the test turns
// them off again at the end (and, should it fail midway, the `finally` does so over REST).

/** A date `days` from today (UTC) as YYYY-MM-DD: future holidays only, as Meta requires. */
function inDays(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

/** The sandbox number's settings as the REST API reports them. */
async function sandboxSettings(request: APIRequestContext) {
  const response = await request.get("/api/v1/app/calling/settings");
  expect(response.status(), await response.text()).toBe(200);
  const body = await response.json();
  expect(body.numbers.length).toBeGreaterThan(0);
  return body.numbers[0];
}

test("business hours: copy Monday to weekdays, a holiday, refusals next to the field, saved to WhatsApp", async ({
  page,
  baseURL,
}) => {
  // Two saves to WhatsApp, two page loads and the clean-up: more than the default 30 s.
  test.setTimeout(90_000);
  const holiday = inDays(30);
  try {
    await openHydrated(page, "/calling/settings");
    await expect(page).toHaveTitle("Settings · Switchboard");

    // What WhatsApp has: the sandbox number takes calls.
    const current = page.getByRole("region", { name: /What WhatsApp has for/ });
    await expect(current).toContainText("Sandbox");
    await expect(current.locator(".current-settings")).toContainText("Calling");
    await expect(current.locator(".current-settings dd").first()).toHaveText("On");

    // The General page: callbacks on, saved to WhatsApp.
    const general = page.getByRole("form", { name: "Call settings" });
    await expect(general.getByLabel("Customers can call this number on WhatsApp")).toBeChecked();
    await general.getByLabel("Let customers ask for a callback").check();
    await general.getByRole("button", { name: "Save and send to WhatsApp" }).click();
    await expect(general.getByRole("status")).toHaveText("Saved: WhatsApp accepted the settings.");
    await expect(current.locator(".current-settings")).toContainText("Callback requests");
    await expect(current.locator(".current-settings dd").nth(2)).toHaveText("On");

    // Call hours are the section's other page: the tab gets there without reloading.
    const tabs = page.getByRole("navigation", { name: "Settings" });
    await tabs.getByRole("link", { name: "Call hours" }).click();
    await expect(page).toHaveURL(/\/calling\/settings\/hours$/);
    await expect(page.getByRole("link", { name: "Settings", exact: true })).toHaveAttribute("aria-current", "page");
    const form = page.getByRole("form", { name: "Call settings" });

    // Monday 09:00–17:00, copied to Tuesday–Friday.
    await form.getByLabel("Take calls only during these hours").check();
    await form.getByLabel("Time zone").selectOption("America/Sao_Paulo");
    const day = (name: string) => form.getByRole("group", { name, exact: true });
    await day("Monday").getByRole("checkbox", { name: "Open on Monday" }).check();
    await day("Monday").getByLabel("Opens").fill("09:00");
    await day("Monday").getByLabel("Closes").fill("17:00");
    await form.getByRole("button", { name: "Copy Monday to weekdays" }).click();
    for (const name of ["Tuesday", "Wednesday", "Thursday", "Friday"]) {
      await expect(day(name).getByRole("checkbox", { name: `Open on ${name}` })).toBeChecked();
      await expect(day(name).getByLabel("Opens")).toHaveValue("09:00");
      await expect(day(name).getByLabel("Closes")).toHaveValue("17:00");
    }
    await expect(day("Saturday").getByRole("checkbox", { name: "Open on Saturday" })).not.toBeChecked();
    // What callers meet follows the form (and the callbacks saved on the General page).
    const preview = form.locator(".caller-preview");
    await expect(preview).toContainText("outside them WhatsApp shows when you open next and offers a chat or a callback request.");

    // An overlapping second range on Tuesday: refused next to its opening time.
    await day("Tuesday").getByRole("button", { name: "Add range on Tuesday" }).click();
    const second = day("Tuesday").getByLabel("Opens").nth(1);
    await second.fill("12:00");
    await day("Tuesday").getByLabel("Closes").nth(1).fill("13:00");
    await expect(second).toHaveAttribute("aria-invalid", "true");
    await expect(second).toHaveAccessibleDescription("Overlaps another range on this day.");
    // Two ranges is the most a day takes.
    await expect(day("Tuesday").getByRole("button", { name: "Add range on Tuesday" })).toBeDisabled();

    // Wednesday closing before it opens: refused next to its closing time.
    const wednesdayCloses = day("Wednesday").getByLabel("Closes");
    await wednesdayCloses.fill("08:00");
    await expect(wednesdayCloses).toHaveAttribute("aria-invalid", "true");
    await expect(wednesdayCloses).toHaveAccessibleDescription("Must be after the opening time.");

    // Saving is refused, the form keeps every value, and WhatsApp got nothing.
    await form.getByRole("button", { name: "Save and send to WhatsApp" }).click();
    await expect(form.getByRole("alert")).toContainText("Not saved: fix the 2 marked fields first.");
    await expect(second).toHaveValue("12:00");
    await expect(wednesdayCloses).toHaveValue("08:00");
    const untouched = await sandboxSettings(page.request);
    expect(untouched.remote?.call_hours?.status ?? "NOT_SET").not.toBe("ENABLED");

    // Fixed: the second Tuesday range goes, Wednesday closes at 17:00 again.
    await day("Tuesday").getByRole("button", { name: "Remove this Tuesday range" }).nth(1).click();
    await expect(day("Tuesday").getByLabel("Opens")).toHaveCount(1);
    await wednesdayCloses.fill("17:00");
    await expect(wednesdayCloses).toHaveAttribute("aria-invalid", "false");

    // A holiday, closed all day.
    await form.getByRole("button", { name: "Add a holiday" }).click();
    const holidays = form.getByRole("group", { name: "Holidays" });
    // A date already gone in São Paulo (judged with the browser's own time-zone database) is
    // refused as it is typed; then the real holiday.
    await holidays.getByLabel("Date").fill(inDays(-2));
    await expect(holidays.getByLabel("Date")).toHaveAccessibleDescription(
      "This date has passed: remove it or pick a later one.",
    );
    await holidays.getByLabel("Date").fill(holiday);
    await expect(holidays.getByLabel("Date")).toHaveAttribute("aria-invalid", "false");
    await expect(holidays.getByLabel("Closed all day")).toBeChecked();

    await form.getByRole("button", { name: "Save and send to WhatsApp" }).click();
    await expect(form.getByRole("status")).toHaveText("Saved: WhatsApp accepted the settings.");

    // What WhatsApp has now, on the General page…
    await tabs.getByRole("link", { name: "General" }).click();
    await expect(current.locator(".week-summary")).toContainText("Monday09:00–17:00");
    await expect(current.locator(".week-summary")).toContainText("Friday09:00–17:00");
    await expect(current.locator(".week-summary")).toContainText("SaturdayClosed");
    await expect(current).toContainText(`${holiday}: closed all day`);
    await expect(current.locator(".drift")).toHaveCount(0);
    await page.screenshot({ path: test.info().outputPath("settings.png"), fullPage: true });

    // …and as the REST API reads it back from WhatsApp (the simulator).
    const saved = await sandboxSettings(page.request);
    const hours = saved.remote.call_hours;
    expect(hours.status).toBe("ENABLED");
    expect(hours.timezone_id).toBe("America/Sao_Paulo");
    const days = hours.weekly_operating_hours.map(
      (slot: { day_of_week: string; open_time: string; close_time: string }) =>
        `${slot.day_of_week} ${slot.open_time}-${slot.close_time}`,
    );
    expect(days.sort()).toEqual(
      ["FRIDAY", "MONDAY", "THURSDAY", "TUESDAY", "WEDNESDAY"].map((name) => `${name} 0900-1700`),
    );
    expect(hours.holiday_schedule).toEqual([{ date: holiday, start_time: "0000", end_time: "2359" }]);
    expect(saved.remote.callback_permission_status).toBe("ENABLED");
    expect(saved.drift).toEqual([]);

    // A reload shows the saved values in the editor.
    await openHydrated(page, "/calling/settings/hours");
    const again = page.getByRole("form", { name: "Call settings" });
    const dayAgain = (name: string) => again.getByRole("group", { name, exact: true });
    await expect(again.getByLabel("Take calls only during these hours")).toBeChecked();
    await expect(again.getByLabel("Time zone")).toHaveValue("America/Sao_Paulo");
    await expect(dayAgain("Friday").getByLabel("Opens")).toHaveValue("09:00");
    await expect(dayAgain("Friday").getByLabel("Closes")).toHaveValue("17:00");
    await expect(dayAgain("Sunday").getByRole("checkbox", { name: "Open on Sunday" })).not.toBeChecked();
    await expect(again.getByRole("group", { name: "Holidays" }).getByLabel("Date")).toHaveValue(holiday);

    // Call hours off again (the schedule is kept for later): sandbox calls ring at any hour.
    await again.getByLabel("Take calls only during these hours").uncheck();
    await expect(again.locator(".caller-preview")).toHaveText("What callers see: Callers can reach you at any time.");
    await again.getByRole("button", { name: "Save and send to WhatsApp" }).click();
    await expect(again.getByRole("status")).toHaveText("Saved: WhatsApp accepted the settings.");
    await page.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "General" }).click();
    await expect(page.getByRole("region", { name: /What WhatsApp has for/ })).toContainText(
      "Call hours are off: calls are taken at any time.",
    );
    const off = await sandboxSettings(page.request);
    expect(off.remote.call_hours.status).toBe("DISABLED");
    expect(off.remote.call_hours.weekly_operating_hours).toHaveLength(5);
  } finally {
    // Whatever happened above, leave the sandbox taking calls at any hour for the other specs.
    const restored = await page.request.put("/api/v1/app/calling/settings", {
      headers: { Origin: baseURL! },
      data: {
        settings: {
          status: "ENABLED",
          call_hours: {
            status: "DISABLED",
            timezone_id: "UTC",
            weekly_operating_hours: [{ day_of_week: "MONDAY", open_time: "0900", close_time: "1700" }],
            holiday_schedule: [],
          },
        },
      },
    });
    expect(restored.status(), await restored.text()).toBe(200);
  }
});
