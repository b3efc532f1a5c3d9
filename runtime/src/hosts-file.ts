// The /etc/hosts of a pod: every service name resolves to its VIP, so `http://payments:8080` reaches
// the pod's sidecar through the VIP redirect.

export function hostsFile(o: { pod: string; podIp: string; mesh: string; vips: Readonly<Record<string, string>> }): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', `${o.podIp}\t${o.pod}`];
  for (const [service, vip] of Object.entries(o.vips).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`${vip}\t${service} ${service}.${o.mesh}`);
  }
  return `${lines.join('\n')}\n`;
}
