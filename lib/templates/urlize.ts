/**
 * Jinja2's `urlize` filter (jinja2.filters.do_urlize and jinja2.utils.urlize, 3.1), ported: the text
 * HTML-escaped, and each `http(s)://`, `www.`, bare `host.com`, `mailto:` or e-mail address word made
 * a link, the punctuation around it kept outside, with the `rel="noopener"` Jinja2's policy adds.
 * nunjucks' own urlize wrote other links (no `rel`, no `https://` for `www.`), and its second and
 * third parameters were a length and `nofollow`, so `target=` and `rel=` were ignored.
 */
import { pyStr, pyTruthy } from "./jinja.ts";
import { escapeHtml, items } from "./filters_common.ts";

// Python's \w and \d in a str pattern are Unicode's
const W = String.raw`\p{L}\p{N}_`;
const D = String.raw`\p{Nd}`;

/** Jinja2's `_http_re`: a URL with a scheme or `www.`, a bare domain of a basic TLD, or an IP URL. */
const HTTP_RE = new RegExp(
  "^(" +
    String.raw`(https?://|www\.)(([${W}%-]+\.)+)?([a-z]{2,63}|xn--[${W}%]{2,59})` +
    String.raw`|([${W}%-]{2,63}\.)+(com|net|int|edu|gov|org|info|mil)` +
    String
      .raw`|(https?://)((([${D}]{1,3})(\.[${D}]{1,3}){3})|(\[([${D}a-f]{0,4}:){2}([${D}a-f]{0,4}:?){1,6}\]))` +
    String.raw`)(?::[${D}]{1,5})?(?:[/?#]\S*)?$`,
  "iu",
);
/** Jinja2's `_email_re`. */
const EMAIL_RE = new RegExp(String.raw`^\S+@[${W}][${W}.-]*\.[${W}]+$`, "u");
/** Jinja2's `_uri_scheme_re`: what `extra_schemes` may hold (`ftp://`, `tel:`). */
const SCHEME_RE = new RegExp(String.raw`^([${W}.+-]{2,}:(/){0,2})$`, "u");

/** Python's `s.count(sub)`: non-overlapping occurrences. */
const count = (s: string, sub: string) => s.split(sub).length - 1;

/**
 * `value|urlize(trim_url_limit=None, nofollow=False, target=None, rel=None, extra_schemes=None)`,
 * with Jinja2's default policies (`urlize.rel` "noopener", no target, no extra schemes).
 */
export function urlize(
  value: unknown,
  trimUrlLimit?: unknown,
  nofollow?: unknown,
  target?: unknown,
  rel?: unknown,
  extraSchemes?: unknown,
): string {
  const relParts = new Set(String(pyTruthy(rel) ? pyStr(rel) : "").split(/\s+/).filter((p) => p));
  if (pyTruthy(nofollow)) relParts.add("nofollow");
  relParts.add("noopener");
  const relAttr = ` rel="${escapeHtml([...relParts].sort().join(" "))}"`;
  const targetAttr = pyTruthy(target) ? ` target="${escapeHtml(String(pyStr(target)))}"` : "";
  const schemes = extraSchemes === undefined || extraSchemes === null ? [] : items(extraSchemes).map(String);
  for (const scheme of schemes) {
    if (!SCHEME_RE.test(scheme)) {
      throw new Error(`FilterArgumentError: urlize: '${scheme}' is not a valid URI scheme prefix.`);
    }
  }
  const limit = trimUrlLimit === undefined || trimUrlLimit === null ? null : Number(trimUrlLimit);
  const trimUrl = (x: string) => {
    const chars = [...x];
    return limit !== null && chars.length > limit ? chars.slice(0, limit).join("") + "..." : x;
  };
  const text = value === undefined ? "" : String(pyStr(value));
  // markupsafe's escape: a marked-safe value (`x|e`, `x|tojson`: Jinja2's Markup) is escaped already
  const words = (value instanceof String ? text : escapeHtml(text)).split(/(\s+)/u);
  return words.map((word) => {
    let head = "", middle = word, tail = "";
    const lead = /^([(<]|&lt;)+/.exec(middle);
    if (lead) {
      head = lead[0];
      middle = middle.slice(head.length);
    }
    if ([")", ">", ".", ",", "\n", "&gt;"].some((e) => middle.endsWith(e))) {
      const trail = /([)>.,\n]|&gt;)+$/.exec(middle);
      if (trail) {
        tail = trail[0];
        middle = middle.slice(0, trail.index);
      }
    }
    // balance parentheses in the URL rather than leave a closing one outside
    for (const [start, end] of [["(", ")"], ["<", ">"], ["&lt;", "&gt;"]]) {
      const starts = count(middle, start);
      if (starts <= count(middle, end)) continue;
      for (let i = Math.min(starts, count(tail, end)); i > 0; i--) {
        const endIndex = tail.indexOf(end) + end.length;
        middle += tail.slice(0, endIndex);
        tail = tail.slice(endIndex);
      }
    }
    if (HTTP_RE.test(middle)) {
      const href = middle.startsWith("https://") || middle.startsWith("http://")
        ? middle
        : `https://${middle}`;
      middle = `<a href="${href}"${relAttr}${targetAttr}>${trimUrl(middle)}</a>`;
    } else if (middle.startsWith("mailto:") && EMAIL_RE.test(middle.slice(7))) {
      middle = `<a href="${middle}">${middle.slice(7)}</a>`;
    } else if (
      middle.includes("@") && !middle.startsWith("www.") && !middle.startsWith("@") &&
      !middle.includes(":") &&
      EMAIL_RE.test(middle)
    ) {
      middle = `<a href="mailto:${middle}">${middle}</a>`;
    } else {
      for (const scheme of schemes) {
        if (middle !== scheme && middle.startsWith(scheme)) {
          middle = `<a href="${middle}"${relAttr}${targetAttr}>${middle}</a>`;
        }
      }
    }
    return head + middle + tail;
  }).join("");
}
