/**
 * A small glob matcher for input URIs: `*` (any run of characters within one path segment), `?`
 * (one character within a segment) and `**` (any number of whole segments, including none).
 * Node 20 has no `fs.glob`, and the same matcher also serves S3 keys.
 */

export function hasGlob(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

/** The literal part of a pattern up to the last `/` before its first wildcard: `a/b/` for `a/b/c*.jsonl`. */
export function globBase(pattern: string): string {
  const first = pattern.search(/[*?]/);
  if (first < 0) return pattern;
  return pattern.slice(0, pattern.lastIndexOf("/", first) + 1);
}

export function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; ) {
    if (pattern.startsWith("**/", i)) {
      re += "(?:.*/)?";
      i += 3;
    } else if (pattern.startsWith("**", i)) {
      re += ".*";
      i += 2;
    } else {
      const c = pattern[i] as string;
      re += c === "*" ? "[^/]*" : c === "?" ? "[^/]" : c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
      i += 1;
    }
  }
  return new RegExp(`^${re}$`, "s");
}
