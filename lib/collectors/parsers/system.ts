/**
 * system collector pieces: os-release, passwd, hosts, `/proc/self/status` ids.
 */

/** `KEY=value` lines of os-release with quotes removed. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    out[m[1]] = m[2].replace(/^(["'])(.*)\1$/, "$2").replace(/\\(.)/g, "$1");
  }
  return out;
}

/** Real uid/gid from the `Uid:`/`Gid:` lines of `/proc/<pid>/status`. */
export function parseStatusIds(text: string): { uid: number; gid: number } {
  const uid = /^Uid:\s+(\d+)/m.exec(text);
  const gid = /^Gid:\s+(\d+)/m.exec(text);
  if (!uid || !gid) throw new Error("/proc/self/status: no Uid/Gid lines");
  return { uid: Number(uid[1]), gid: Number(gid[1]) };
}

/** User name of a uid in `/etc/passwd` text (null when absent). */
export function userName(passwd: string, uid: number): string | null {
  for (const line of passwd.split("\n")) {
    const p = line.split(":");
    if (p.length >= 3 && Number(p[2]) === uid && p[2] !== "") return p[0];
  }
  return null;
}

/** Fully qualified name: the first dotted alias of the host in `/etc/hosts`, else the domain, else the host. */
export function fqdnOf(hostname: string, hosts: string | null, domainname: string | null): string {
  if (hosts) {
    for (const raw of hosts.split("\n")) {
      const names = raw.replace(/#.*/, "").trim().split(/\s+/).slice(1);
      if (!names.includes(hostname) && !names.some((n) => n.startsWith(hostname + "."))) continue;
      const dotted = names.find((n) => n.includes(".") && n.startsWith(hostname));
      if (dotted) return dotted;
    }
  }
  const d = domainname?.trim();
  if (d && d !== "(none)" && !hostname.includes(".")) return `${hostname}.${d}`;
  return hostname;
}

/** Guesses the hypervisor/container from DMI strings and cpu flags (virt-what style, "false" if none). */
export function virtualKind(
  dmi: { sys_vendor?: string; product_name?: string },
  cpuinfo: string,
  cgroup: string,
): string {
  const v = (dmi.sys_vendor ?? "").toLowerCase();
  const p = (dmi.product_name ?? "").toLowerCase();
  if (/docker/.test(cgroup)) return "docker";
  if (/\/lxc\//.test(cgroup)) return "lxc";
  if (v.includes("qemu") || p.includes("kvm") || p.includes("qemu")) return "kvm";
  if (v.includes("vmware")) return "vmware";
  if (v.includes("innotek") || p.includes("virtualbox")) return "virtualbox";
  if (v.includes("microsoft") && p.includes("virtual")) return "hyperv";
  if (v.includes("xen") || p.includes("hvm domu")) return "xen";
  if (v.includes("amazon ec2")) return "aws";
  if (v.includes("google")) return "google_cloud";
  if (/^flags\s*:.*\bhypervisor\b/m.test(cpuinfo)) return "hypervisor";
  return "false";
}
