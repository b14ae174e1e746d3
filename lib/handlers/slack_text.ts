/**
 * What the cluster says in a Slack-format webhook (Slack, Mattermost, Rocket.Chat) stays text: it can
 * neither link nor notify. The values a template receives are escaped, not the template's own text, which
 * the admin wrote and may use to mention on purpose (`<!here>`, `@channel`).
 *
 * - Slack reads `&`, `<` and `>` as control characters (`<!channel>`, `<@U123>`, `<http://x|y>`; Mattermost
 *   turns `<!channel>`, `<!here>`, `<!all>` into its own mentions): escaped as Slack asks (`&amp;`...).
 * - Mattermost notifies on plain `@channel`, `@here`, `@all` and `@username` (Slack too with `link_names`):
 *   a zero-width space (U+200B) after every `@` that starts a name. The text reads the same, but the
 *   mention parsers split the word there (Mattermost splits on any character but letters, digits, `.`,
 *   `-`, `_`, `:` and `@`), so `@\u200Bchannel` is an `@` and a word `channel`.
 * - Mattermost and Rocket.Chat render Markdown: `[Reset your password](http://x)` would be a link and
 *   `![](http://x/p.png)` an image every reader's client loads. A zero-width space after every `]` breaks
 *   `](`, `][` and `]:` (reference links). A plain URL stays a URL (its target is what one reads).
 *
 * ```ts
 * slackLiteral("disk <!channel> @here") // "disk &lt;!channel&gt; @\u200Bhere"
 * ```
 */

const ZERO_WIDTH_SPACE = "\u200B";

/** `s` as Slack and Mattermost show it literally: no markup link or image, no control, no mention. */
export function slackLiteral(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replace(/@(?=[\p{L}\p{N}_.:-])/gu, "@" + ZERO_WIDTH_SPACE).replaceAll("]", "]" + ZERO_WIDTH_SPACE);
}

/** `v` with every string in it (values and keys, in objects and arrays) made literal by slackLiteral. */
export function slackLiteralValues<T>(v: T): T {
  if (typeof v === "string") return slackLiteral(v) as T;
  if (Array.isArray(v)) return v.map(slackLiteralValues) as T;
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [slackLiteral(k), slackLiteralValues(x)]),
    ) as T;
  }
  return v;
}
