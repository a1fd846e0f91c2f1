/**
 * Peak resident memory of a process, from Linux's /proc/<pid>/status: VmHWM is the high-water mark
 * of VmRSS over the process's whole life, so one read just before it stops gives its peak.
 */
export async function peakRssMb(pid: number): Promise<number | undefined> {
  const status = await Bun.file(`/proc/${pid}/status`).text().catch(() => undefined);
  const kb = status?.match(/^VmHWM:\s+(\d+) kB/m)?.[1];
  return kb === undefined ? undefined : Number(kb) / 1024;
}
