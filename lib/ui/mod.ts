/**
 * Serves the web UI (`ui/`) at `/ui/`: files are read once from beside the code (embedded in the
 * binary by `deno compile --include ui`) and kept in memory. `/ui/api` is the readable API page.
 */
import { HttpError, RouteTable } from "../routing/mod.ts";
import { projectRoot } from "../root.ts";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
};

/**
 * The pages' policy. The UI shows what other agents sent (names, tags, check outputs, event
 * payloads) and holds the API token for its writes: it builds its DOM as text, and this keeps an
 * injection that got through from running (only the scripts and styles of /ui/, no inline code, no
 * plugins, no `<base>`), from sending a form anywhere, and keeps other sites from framing the page
 * (a click on a framed "Save" or "End maintenance" is a write where `http.open_writes` is set).
 * `connect-src` stays open: config.js may list other agents, at any address, and their websocket feeds.
 */
export const UI_PAGE_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self' http: https: ws: wss:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; "),
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};

/** `js/app.js` → ok; anything with `..`, a leading slash, backslashes or odd characters → null. */
export function safeUiPath(rel: string): string | null {
  if (
    !/^[A-Za-z0-9_\-./]+$/.test(rel) || rel.startsWith("/") ||
    rel.split("/").some((s) => s === ".." || s === "")
  ) {
    return null;
  }
  return rel;
}

export function uiRoutes(root: URL = new URL("ui/", projectRoot())): RouteTable {
  const cache = new Map<string, Uint8Array>();
  const load = async (rel: string): Promise<Uint8Array> => {
    const hit = cache.get(rel);
    if (hit) return hit;
    try {
      const bytes = await Deno.readFile(new URL(rel, root));
      cache.set(rel, bytes);
      return bytes;
    } catch {
      // not found, a directory, a name too long for the filesystem...: the client asked for a
      // file the UI does not have (the path was already checked to stay inside ui/)
      throw new HttpError(404, "no such UI file", { path: rel.slice(0, 200) });
    }
  };
  const send = async (rel: string) => {
    const bytes = await load(rel);
    const ext = rel.slice(rel.lastIndexOf(".") + 1);
    const headers: Record<string, string> = {
      "content-type": TYPES[ext] ?? "application/octet-stream",
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
    };
    if (ext === "html") Object.assign(headers, UI_PAGE_HEADERS);
    return new Response(bytes as Uint8Array<ArrayBuffer>, { headers });
  };
  const r = new RouteTable("ui");
  r.read("GET", "/ui", "redirects to /ui/", (c) => c.redirect("/ui/"));
  r.read("GET", "/ui/", "the web UI", () => send("index.html"));
  r.read("GET", "/ui/api", "readable list of every API route", () => send("api.html"));
  r.read("GET", "/ui/:file{.+}", "a file of the web UI", (c) => {
    const rel = safeUiPath(c.req.param("file") ?? "");
    if (!rel) throw new HttpError(404, "no such UI file", { path: c.req.param("file") });
    return send(rel);
  });
  return r;
}
