// A stable colour per service name, so a service looks the same in every trace. No reds, oranges or
// ambers: those mean failed and degraded everywhere in the UI.
const HUES = [212, 152, 280, 190, 95, 250, 170, 300, 232, 130, 265, 196];

export function serviceHue(service: string): number {
  let hash = 2166136261;
  for (let i = 0; i < service.length; i++) hash = Math.imul(hash ^ service.charCodeAt(i), 16777619);
  return HUES[(hash >>> 0) % HUES.length]!;
}
