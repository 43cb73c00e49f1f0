/**
 * Quotes user text for a one-line message: `"03:00.0"` as xl prints it, with control
 * characters and quotes escaped as in JSON, so a spec holding a newline cannot split a line.
 */
export function q(s: string): string {
  return JSON.stringify(s);
}
