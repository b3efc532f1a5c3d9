// How numbers, durations and times are written everywhere in the UI.

/** 0.42 ms, 12 ms, 1.24 s, 2 min 5 s. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  const abs = Math.abs(ms);
  if (abs < 1) return `${ms.toFixed(2)} ms`;
  if (abs < 10) return `${ms.toFixed(1)} ms`;
  if (abs < 1000) return `${Math.round(ms)} ms`;
  if (abs < 60_000) return `${(ms / 1000).toFixed(abs < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(abs / 60_000);
  const seconds = Math.round((abs % 60_000) / 1000);
  return `${ms < 0 ? '-' : ''}${minutes} min${seconds ? ` ${seconds} s` : ''}`;
}

/** A signed duration change: +12 ms, −1.2 s. */
export function formatDeltaMs(ms: number): string {
  if (ms === 0) return '±0 ms';
  return `${ms > 0 ? '+' : '−'}${formatMs(Math.abs(ms))}`;
}

/** Requests per second: 0.05/s, 3.2/s, 120/s. */
export function formatRate(perSecond: number): string {
  if (perSecond === 0) return '0/s';
  if (perSecond < 0.1) return `${perSecond.toFixed(2)}/s`;
  if (perSecond < 10) return `${perSecond.toFixed(1)}/s`;
  return `${Math.round(perSecond)}/s`;
}

/** A fraction as a percentage: 0 %, 0.4 %, 12 %. */
export function formatPercent(fraction: number): string {
  const p = fraction * 100;
  if (p === 0) return '0 %';
  if (p < 1) return `${p.toFixed(1)} %`;
  return `${p < 10 ? p.toFixed(1) : Math.round(p)} %`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value < 10 && i > 0 ? value.toFixed(1) : Math.round(value)} ${units[i]}`;
}

/** Local wall-clock time with seconds; the date too when it is not today. */
export function formatTime(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const time = d.toLocaleTimeString('en-GB', { hour12: false });
  const sameDay = new Date(now).toDateString() === d.toDateString();
  return sameDay ? time : `${d.toLocaleDateString('en-CA')} ${time}`;
}

/** Time with milliseconds, for logs and spans. */
export function formatTimeMs(ms: number): string {
  const d = new Date(ms);
  return `${d.toLocaleTimeString('en-GB', { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** “12 s ago”, “5 min ago”, “3 h ago”. */
export function formatAgo(ms: number, now = Date.now()): string {
  const diff = Math.max(0, now - ms);
  if (diff < 1000) return 'just now';
  if (diff < 60_000) return `${Math.round(diff / 1000)} s ago`;
  if (diff < 3_600_000) return `${Math.round(diff / 60_000)} min ago`;
  if (diff < 86_400_000) return `${Math.round(diff / 3_600_000)} h ago`;
  return `${Math.round(diff / 86_400_000)} d ago`;
}

/** `meshlet.pod.oom_killed` → “OOM killed”. */
export function eventLabel(eventName: string): string {
  const known: Record<string, string> = {
    'meshlet.pod.started': 'started',
    'meshlet.pod.exited': 'exited',
    'meshlet.pod.restarted': 'restarted',
    'meshlet.pod.oom_killed': 'OOM killed',
    'meshlet.pod.health_changed': 'health changed',
    'meshlet.pod.cpu_throttled': 'CPU throttled',
    'meshlet.pod.status': 'status',
    'meshlet.pod.removed': 'removed',
    'meshlet.loadtest.started': 'load test started',
    'meshlet.loadtest.finished': 'load test finished',
  };
  return known[eventName] ?? eventName.replace(/^meshlet\./, '').replace(/[._]/g, ' ');
}

/** `no_endpoints` → “no endpoints”. */
export function reasonLabel(reason: string): string {
  return reason.replace(/_/g, ' ');
}
