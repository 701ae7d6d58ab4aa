// Shared helpers for the browser tests: launch Debian's Chromium through
// playwright-core, sign in, take screenshots. No browser is ever downloaded.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";

export const BASE_URL = required("CHARTER_URL");
export const ADMIN = { username: "admin", password: required("ADMIN_PASSWORD") };
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || "screenshots";

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with tests/browser/run.sh`);
  return value;
}

/** Headless Debian Chromium, as the project requires. */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A fresh browser context (its own cookies) and page at desktop width. */
export async function newPage(browser, { width = 1280, height = 860 } = {}) {
  const context = await browser.newContext({
    baseURL: BASE_URL,
    viewport: { width, height },
    acceptDownloads: true,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  return page;
}

/** A name no other test run uses. */
export function unique(prefix) {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
}

/** Sign in through the form, as a person would. */
export async function signIn(page, { username, password }, path = "/login") {
  await page.goto(path);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Sign in" }).click()]);
}

export async function signOut(page) {
  await Promise.all([page.waitForURL(/\/login$/), page.getByRole("button", { name: "Sign out" }).click()]);
}

/** Create a user through the admin page (the caller must be an admin). */
export async function createUser(page, { username, displayName, email, role, password }) {
  await page.goto("/admin/users");
  const form = page.locator("form", { has: page.getByRole("button", { name: "Create user" }) });
  await form.getByLabel("Username").fill(username);
  await form.getByLabel("Display name").fill(displayName || username);
  await form.getByLabel("E-mail").fill(email || `${username}@example.com`);
  await form.getByLabel("Role").selectOption(role || "practitioner");
  if (password) await form.getByLabel("Password").fill(password);
  await Promise.all([page.waitForNavigation(), form.getByRole("button", { name: "Create user" }).click()]);
}

/** Save a screenshot (the whole page unless told otherwise) under target/screenshots/. */
export async function screenshot(page, name, { fullPage = true } = {}) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage });
}
