/**
 * What a title may be (plan items, the milestone, backlog items): one line of at most MAX_TITLE_LENGTH characters
 * without control characters. Titles become branch slugs, commit messages, prompt text, environment values and
 * JSON; a 200 KB title overflows the environment of an agent (spawn E2BIG) and a NUL cannot be passed at all.
 */

/** The longest title, in characters (Unicode code points); docs/plan-format.md says so. */
export const MAX_TITLE_LENGTH = 200;

/** C0 controls (NUL, tab, line feed, …), DEL, C1 controls, and the Unicode line and paragraph separators. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/gu;

/** `U+0000` for NUL. */
function codePoint(char: string): string {
  return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Why `title` cannot be a title ("is 204800 characters long; …"), or undefined when it can; the caller names the field.
 */
export function titleProblem(title: string): string | undefined {
  if (title.length === 0) return 'must not be empty';
  const match = CONTROL.exec(title);
  if (match) {
    const at = [...title.slice(0, match.index)].length + 1;
    return `has a control character (${codePoint(match[0])} at character ${at}); a title is one line of text without control characters`;
  }
  // Cheap first: a string of at most MAX_TITLE_LENGTH UTF-16 units has at most that many code points.
  if (title.length > MAX_TITLE_LENGTH) {
    const length = [...title].length;
    if (length > MAX_TITLE_LENGTH) return `is ${length} characters long; a title may have at most ${MAX_TITLE_LENGTH}`;
  }
  return undefined;
}

/**
 * `title` made a valid title, for titles the runner writes itself (follow-up items): control characters become
 * spaces, and a title too long is cut to MAX_TITLE_LENGTH characters ending in `…`. A valid title is returned as is.
 */
export function fitTitle(title: string): string {
  const line = title.replace(CONTROLS, ' ');
  const chars = [...line];
  const fitted =
    chars.length > MAX_TITLE_LENGTH
      ? `${chars
          .slice(0, MAX_TITLE_LENGTH - 1)
          .join('')
          .trimEnd()}…`
      : line;
  return fitted.trim() === '' ? 'untitled' : fitted;
}
