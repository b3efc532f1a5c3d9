// Output for people: aligned tables, sizes, ages and colour (only on a terminal, never with NO_COLOR).

export type OutputFormat = 'table' | 'json' | 'wide';

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, dim: 2, bold: 1 } as const;
export type Colour = keyof typeof CODES;

/** Colours for a stream: off when NO_COLOR is set (any value, https://no-color.org) or the stream is not a TTY. */
export function colours(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): (text: string, colour: Colour) => string {
  const on = stream.isTTY === true && (env['NO_COLOR'] === undefined || env['NO_COLOR'] === '') && env['TERM'] !== 'dumb';
  return (text, colour) => (on ? `\x1b[${CODES[colour]}m${text}\x1b[0m` : text);
}

// eslint-disable-next-line no-control-regex -- matching the colour codes this module writes
const visibleLength = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;

/** Left-aligned columns separated by three spaces (kubectl's look). */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - visibleLength(c))))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `1.5 KiB`, `12 MiB`. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** `42s`, `3m`, `2h`, `5d`. */
export function formatAge(ms: number | undefined): string {
  if (ms === undefined || ms < 0) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function formatPercent(p: number | undefined): string {
  return p === undefined ? '-' : `${p.toFixed(p < 10 ? 2 : 1)}%`;
}
