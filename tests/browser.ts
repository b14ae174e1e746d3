/**
 * Headless Chromium for the UI tests: Debian's `chromium`, driven by playwright-core. Tests that
 * need it are ignored where it is not installed (`ignore: !haveChromium()`).
 */
import { type Browser, chromium } from "playwright-core";

if (!Deno.env.get("DENO_DIR")) {
  const home = Deno.env.get("HOME");
  if (home) Deno.env.set("DENO_DIR", `${home}/.cache/deno`);
}

export const CHROMIUM = "/usr/bin/chromium";

export function haveChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** A headless browser (close it in a `finally`). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
  });
}
