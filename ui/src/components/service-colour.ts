// A stable colour per service name, so a service looks the same in every trace.
const HUES = [212, 152, 28, 280, 190, 330, 95, 250, 50, 0, 170, 300];

export function serviceHue(service: string): number {
  let hash = 2166136261;
  for (let i = 0; i < service.length; i++) hash = Math.imul(hash ^ service.charCodeAt(i), 16777619);
  return HUES[(hash >>> 0) % HUES.length]!;
}
