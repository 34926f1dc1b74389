/**
 * The hosts scenario on simulated separate machines: PostgreSQL, host A and
 * host B each in a network namespace of their own, joined to the bench (in
 * the root namespace) through veth links on a bridge, with `tc netem` adding
 * 1 ms to every packet a machine sends. Needs root, `ip` and `tc`; otherwise
 * the report says why it was skipped. Everything it creates — namespaces,
 * links, the bridge — carries this process's id and is removed at the end;
 * traffic stays on that private /24.
 */
import { execFile } from 'node:child_process';
import { userInfo } from 'node:os';
import { promisify } from 'node:util';
import pg from 'pg';
import { startPgCluster, type PgCluster } from '../../test/helpers/pg-cluster.js';
import { HostProcess } from '../lib/host-process.js';
import { fmt, type BenchSettings, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import { measurePair } from './hosts.js';

const run = promisify(execFile);
const DELAY = '1ms';

async function ip(...args: string[]): Promise<void> {
  await run('ip', args, { timeout: 10_000 });
}

async function inNs(ns: string, ...command: string[]): Promise<void> {
  await run('ip', ['netns', 'exec', ns, ...command], { timeout: 10_000 });
}

/** Why the scenario cannot run here, or null. */
async function whyNot(): Promise<string | null> {
  if (userInfo().uid !== 0) return 'it needs root to create network namespaces (run the bench as root)';
  try {
    await run('ip', ['-V']);
    await run('tc', ['-V']);
  } catch {
    return 'it needs `ip` and `tc` (Debian package iproute2)';
  }
  return null;
}

interface Net {
  subnet: string;
  namespaces: string[];
  /** Whether every link got its netem delay; otherwise why not. */
  netem: string | true;
  cleanUp(): Promise<void>;
}

/** A hub namespace with a bridge; one namespace per machine plus a link from the root namespace. */
async function buildNet(machines: string[]): Promise<Net> {
  const tag = `pst${process.pid % 100_000}`;
  const subnet = `10.213.${100 + (process.pid % 100)}`;
  const hub = `${tag}-hub`;
  const namespaces = machines.map((m) => `${tag}-${m}`);
  const created: string[] = [];
  const cleanUp = async (): Promise<void> => {
    for (const ns of [...created].reverse()) await ip('netns', 'del', ns).catch(() => {});
    await ip('link', 'del', `${tag}r`).catch(() => {});
  };
  let netem: string | true = true;
  const delay = async (ns: string | null, dev: string): Promise<void> => {
    const args = ['qdisc', 'add', 'dev', dev, 'root', 'netem', 'delay', DELAY];
    try {
      if (ns) await inNs(ns, 'tc', ...args);
      else await run('tc', args);
    } catch (error) {
      netem = `tc netem failed (${((error as { stderr?: string }).stderr ?? String(error)).trim()}; the kernel module sch_netem is probably missing), so no delay was added`;
    }
  };
  try {
    await ip('netns', 'add', hub);
    created.push(hub);
    await inNs(hub, 'ip', 'link', 'add', 'br0', 'type', 'bridge');
    await inNs(hub, 'ip', 'link', 'set', 'br0', 'up');
    // The bench's own link: root namespace ↔ hub.
    await ip('link', 'add', `${tag}r`, 'type', 'veth', 'peer', 'name', `${tag}rh`, 'netns', hub);
    await ip('addr', 'add', `${subnet}.10/24`, 'dev', `${tag}r`);
    await ip('link', 'set', `${tag}r`, 'up');
    await inNs(hub, 'ip', 'link', 'set', `${tag}rh`, 'master', 'br0', 'up');
    await delay(null, `${tag}r`);
    for (const [index, ns] of namespaces.entries()) {
      await ip('netns', 'add', ns);
      created.push(ns);
      await inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
      const dev = `${tag}m${index}`;
      await ip('link', 'add', dev, 'netns', ns, 'type', 'veth', 'peer', 'name', `${dev}h`, 'netns', hub);
      await inNs(ns, 'ip', 'addr', 'add', `${subnet}.${index + 1}/24`, 'dev', dev);
      await inNs(ns, 'ip', 'link', 'set', dev, 'up');
      await inNs(hub, 'ip', 'link', 'set', `${dev}h`, 'master', 'br0', 'up');
      await delay(ns, dev);
    }
  } catch (error) {
    await cleanUp();
    throw error;
  }
  return { subnet, namespaces, netem, cleanUp };
}

export const hostsNetns: Scenario = {
  id: 'hosts-netns',
  title: 'Several hosts on simulated separate machines (network namespaces)',
  notPerConfiguration: 'builds its own network namespaces, PostgreSQL and two hosts, with fixed settings',
  notFromOutside: 'starts its own hosts inside network namespaces',
  async run(settings: BenchSettings, log): Promise<ScenarioResult> {
    const base = { id: this.id, title: this.title, charts: [], targets: [] };
    const reason = await whyNot();
    if (reason) {
      log(`skipped: ${reason}`);
      return { ...base, method: `Skipped: ${reason}.`, tables: [], data: { skipped: reason } };
    }
    const net = await buildNet(['pg', 'a', 'b']);
    const [pgNs, aNs, bNs] = net.namespaces as [string, string, string];
    const delayNote = net.netem === true ? `every link delays what it sends by ${DELAY} (tc netem)` : net.netem;
    log(`namespaces ${net.namespaces.join(', ')} on ${net.subnet}.0/24; ${delayNote}`);
    let cluster: PgCluster | null = null;
    const hosts: HostProcess[] = [];
    let client: pg.Client | null = null;
    try {
      cluster = await startPgCluster({ wrap: ['ip', 'netns', 'exec', pgNs], host: `${net.subnet}.1`, trustNetwork: `${net.subnet}.0/24` });
      const databaseUrl = await cluster.createDatabase();
      const env = {
        DATABASE_URL: databaseUrl,
        MAX_THREADS: '4',
        MIN_THREADS: '4',
        POLL_MODE: 'multiplex',
        TASKS_PER_THREAD: '1000',
        MAX_QUEUE: '10000',
      };
      for (const [name, ns, index] of [
        ['A', aNs, 2],
        ['B', bNs, 3],
      ] as const) {
        const host = new HostProcess(name, `${net.subnet}.${index}`, 3000, env, ['ip', 'netns', 'exec', ns]);
        await host.start();
        hosts.push(host);
      }
      client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      const insert = (content: string) => client!.query('INSERT INTO messages (wall_id, user_id, content) VALUES (1, 1, $1)', [content]);
      const { rows, fan } = await measurePair('postgres, namespaces', hosts[0]!, hosts[1]!, insert, settings, log);
      return {
        ...base,
        method:
          `PostgreSQL, host A and host B (POLL_MODE=multiplex, MAX_THREADS=4) each in its own network namespace, joined with the ` +
          `bench through veth links on a bridge; ${delayNote}. Same measurements as the loopback hosts scenario: ` +
          `${settings.messages} messages one at a time to a waiting long poll, then one post fanned out to ${fan.polls} polls over both hosts.`,
        tables: [
          {
            title: 'Delivery to a waiting long poll across namespaces, ms',
            columns: ['path', 'delivered', 'p50', 'p99', 'max'],
            rows: rows.map((r) => [
              r.path,
              `${r.summary.count}/${settings.messages}`,
              fmt(r.summary.p50),
              fmt(r.summary.p99),
              fmt(r.summary.max),
            ]),
          },
          {
            title: 'Fan-out across namespaces, ms',
            columns: ['polls', 'delivered', 'p50', 'p99', 'max'],
            rows: [[fan.polls, `${fan.delivered}/${fan.polls}`, fmt(fan.p50), fmt(fan.p99), fmt(fan.max)]],
          },
        ],
        data: { rows, fan, netem: net.netem },
      };
    } finally {
      await client?.end().catch(() => {});
      for (const host of hosts) await host.stop();
      await cluster?.destroy().catch(() => {});
      await net.cleanUp();
    }
  },
};
