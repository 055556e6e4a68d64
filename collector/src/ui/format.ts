/** Small display helpers shared by the pages. */

export function timeOf(iso: unknown): string {
  if (typeof iso !== 'string') return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toLocaleTimeString(undefined, { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

export function dateTimeOf(iso: unknown): string {
  if (typeof iso !== 'string') return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { hour12: false });
}

/**
 * Isolates a user-supplied value inside a string, where no <bdi> element can go (title
 * attributes, one-string labels): the FSI…PDI pair does what <bdi> does, so a bidi control in
 * the value (an unclosed U+202E) cannot reverse the text after it.
 */
export const isolate = (value: string) => `\u2068${value}\u2069`;

/** What an event is about in one phrase: the track event, the page/screen name, or the call. */
export function eventLabel(e: Record<string, unknown>): string {
  const type = String(e.type ?? '');
  if (type === 'track') return String(e.event ?? '');
  if (type === 'page' || type === 'screen') return String(e.name ?? (e.properties as { path?: string })?.path ?? '');
  if (type === 'identify') {
    const email = (e.traits as { email?: unknown } | undefined)?.email;
    return typeof email === 'string' ? email : String(e.userId ?? '');
  }
  if (type === 'alias') return `${isolate(String(e.previousId ?? ''))} → ${isolate(String(e.userId ?? ''))}`;
  if (type === 'group') return String(e.groupId ?? '');
  return '';
}

export function who(e: Record<string, unknown>): string {
  return String(e.userId ?? e.anonymousId ?? '');
}

export const number = (n: number) => n.toLocaleString('en-US');

export const plural = (n: number, noun: string) => `${number(n)} ${noun}${n === 1 ? '' : 's'}`;

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** Copies text; older browsers and insecure origins have no Clipboard API, so fall back to a selection. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (error) {
    void error;
    const area = document.createElement('textarea');
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}
