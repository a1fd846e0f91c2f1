import { readdirSync } from 'node:fs';

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on every common kernel. */
const TICKS_PER_SECOND = 100;

/** CPU seconds per group of processes over a window, and the machine's total busy time. */
export type CpuUse = Record<string, number>;

/** One process's CPU seconds so far (user + system, all its threads), from /proc/<pid>/stat. */
export async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await ticksOf(String(pid));
  if (!stat) throw new Error(`no process ${pid} to read the CPU time of`);
  return stat.ticks / TICKS_PER_SECOND;
}

async function ticksOf(pid: string): Promise<{ comm: string; ticks: number } | undefined> {
  const stat = await Bun.file(`/proc/${pid}/stat`).text().catch(() => undefined);
  if (!stat) return undefined;
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  // After "pid (comm) ": state is field 3, utime 14 and stime 15 (1-based), so 11 and 12 here.
  return { comm: stat.slice(stat.indexOf('(') + 1, close), ticks: Number(fields[11]) + Number(fields[12]) };
}

/** Every CPU's busy ticks (1/100 s) since boot, everyone's. */
export async function busyTicks(): Promise<number> {
  const cpu = (await Bun.file('/proc/stat').text()).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: everything but idle and iowait.
  return cpu.reduce((sum, n, i) => (i === 3 || i === 4 ? sum : sum + n), 0);
}

/** Every process's ticks, grouped: `named` pids under their name, then postgres, redis, wrk, this process, other. */
async function snapshot(named: Record<string, number>): Promise<{ groups: Map<string, number>; perPid: Map<string, number>; busy: number }> {
  const names = new Map(Object.entries(named).map(([name, pid]) => [String(pid), name]));
  names.set(String(process.pid), 'bench (this process)');
  const perPid = new Map<string, number>();
  const groupOf = new Map<string, string>();
  await Promise.all(
    readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .map(async (pid) => {
        const stat = await ticksOf(pid);
        if (!stat) return;
        perPid.set(pid, stat.ticks);
        groupOf.set(pid, names.get(pid) ?? (stat.comm === 'postgres' ? 'postgres' : stat.comm === 'redis-server' ? 'redis' : stat.comm === 'wrk' ? 'wrk' : 'other'));
      }),
  );
  const groups = new Map<string, number>();
  for (const [pid, group] of groupOf) groups.set(`${group}\0${pid}`, perPid.get(pid)!);
  return { groups, perPid, busy: await busyTicks() };
}

/**
 * Starts counting CPU time: stop() returns the seconds each group used since, plus `machine` (all
 * CPUs' busy time). A process that started in between counts from zero; one that ended is lost
 * (for "other" that understates the disturbance a little). "other" is every process not ours, nor
 * PostgreSQL, Redis or wrk: other people's work on the machine, which makes a run suspect.
 */
export async function countCpu(named: Record<string, number>): Promise<{ stop(): Promise<CpuUse> }> {
  const before = await snapshot(named);
  return {
    async stop() {
      const after = await snapshot(named);
      const use: CpuUse = {};
      for (const [key, ticks] of after.groups) {
        const [group, pid] = key.split('\0') as [string, string];
        const earlier = before.perPid.get(pid) ?? 0;
        use[group] = (use[group] ?? 0) + Math.max(0, ticks - earlier) / TICKS_PER_SECOND;
      }
      use.machine = (after.busy - before.busy) / TICKS_PER_SECOND;
      return use;
    },
  };
}
