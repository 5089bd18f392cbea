/**
 * The optional fail-closed start-up window (docs/agent.md): until the first verdict, only DHCP,
 * DNS, NTP, the collectors and on-link traffic may leave the device. An nftables output chain in
 * a table of our own (`inet tattler_startup`), created and deleted by the agent; nothing else in
 * the ruleset is touched. The ruleset text is built by pure functions.
 * @module
 */
import { execFile } from 'node:child_process';
import { formatIp, parseIp } from '../protocol/index.ts';

/** Our table: the only one the agent ever creates or deletes. */
export const STARTUP_TABLE = 'tattler_startup';

/** What the window lets out besides DHCP, DNS, NTP, loopback and link-local/multicast. */
export interface StartupAllow {
  readonly collectors: readonly { readonly address: string; readonly port: number }[];
  /** On-link prefixes (`192.168.1.0/24`, `2001:db8:1::/64`), host bits cleared. */
  readonly onLink: readonly string[];
}

/** Opens, updates and closes the window; an implementation runs `nft`, a test records calls. */
export interface StartupWindowLayer {
  /** Creates (or replaces) our table. */
  open(allow: StartupAllow): Promise<void>;
  /** Replaces the on-link prefixes (addresses arrive by DHCP or SLAAC after the window opens). */
  updateOnLink(onLink: readonly string[]): Promise<void>;
  /** Deletes our table; succeeds when it is already gone. */
  close(): Promise<void>;
}

/** The network of `address/length` with its host bits cleared, as text. */
export function networkOf(address: Uint8Array, length: number): string {
  const out = address.slice();
  for (let i = 0; i < out.byteLength; i++) {
    const bits = Math.max(0, Math.min(8, length - i * 8));
    out[i] = (out[i] ?? 0) & ((0xff << (8 - bits)) & 0xff);
  }
  return `${formatIp(out)}/${length}`;
}

function elements(list: readonly string[]): string {
  return list.length === 0 ? '' : `elements = { ${list.join(', ')} }`;
}

function split(prefixes: readonly string[]): { v4: string[]; v6: string[] } {
  const v4 = prefixes.filter((p) => !p.includes(':'));
  const v6 = prefixes.filter((p) => p.includes(':'));
  return { v4, v6 };
}

/**
 * The `nft -f` script that creates our table from scratch (deleting an older one of ours in the
 * same transaction, so a crash-restarted agent converges).
 */
export function startupRuleset(allow: StartupAllow): string {
  const { v4, v6 } = split(allow.onLink);
  const collectors = allow.collectors.map((c) => {
    const bytes = parseIp(c.address);
    if (bytes === undefined) throw new RangeError(`startup window: not an IP literal: ${c.address}`);
    const family = bytes.byteLength === 4 ? 'ip' : 'ip6';
    return `    ${family} daddr ${formatIp(bytes)} udp dport ${c.port} accept`;
  });
  return [
    `table inet ${STARTUP_TABLE}`,
    `delete table inet ${STARTUP_TABLE}`,
    `table inet ${STARTUP_TABLE} {`,
    `  set onlink4 { type ipv4_addr; flags interval; ${elements(v4)} }`,
    `  set onlink6 { type ipv6_addr; flags interval; ${elements(v6)} }`,
    '  chain output {',
    // Priority 0, after the usual filter chains; policy drop is the window itself.
    '    type filter hook output priority 0; policy drop;',
    '    oif "lo" accept',
    '    ct state established,related accept',
    '    udp dport { 67, 68, 546, 547 } accept',
    '    meta l4proto { tcp, udp } th dport 53 accept',
    '    udp dport 123 accept',
    // IPv6 does not work without neighbour discovery, router solicitation and MLD.
    '    meta l4proto ipv6-icmp accept',
    '    ip6 daddr { fe80::/10, ff00::/8 } accept',
    '    ip daddr { 169.254.0.0/16, 224.0.0.0/4, 255.255.255.255 } accept',
    '    ip daddr @onlink4 accept',
    '    ip6 daddr @onlink6 accept',
    ...collectors,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** The `nft -f` script that replaces the on-link sets. */
export function onLinkUpdate(onLink: readonly string[]): string {
  const { v4, v6 } = split(onLink);
  return [
    `flush set inet ${STARTUP_TABLE} onlink4`,
    `flush set inet ${STARTUP_TABLE} onlink6`,
    ...(v4.length === 0 ? [] : [`add element inet ${STARTUP_TABLE} onlink4 { ${v4.join(', ')} }`]),
    ...(v6.length === 0 ? [] : [`add element inet ${STARTUP_TABLE} onlink6 { ${v6.join(', ')} }`]),
    '',
  ].join('\n');
}

/** Runs `nft` with `args`, `script` on standard input; resolves with stdout. */
export type NftExec = (args: readonly string[], script?: string) => Promise<string>;

/** An {@link NftExec} running `program` (default `nft` from PATH), optionally in a netns. */
export function createNftExec(options: { program?: string; netns?: string } = {}): NftExec {
  const program = options.program ?? 'nft';
  return function nftExec(args, script) {
    const [file, fullArgs] =
      options.netns === undefined
        ? [program, [...args]]
        : ['ip', ['netns', 'exec', options.netns, program, ...args]];
    return new Promise((resolve, reject) => {
      const child = execFile(
        file,
        fullArgs,
        { encoding: 'utf8', timeout: 10_000 },
        (error, stdout, stderr) => {
          if (error === null) resolve(stdout);
          else
            reject(
              new Error(`nft ${args.join(' ')}: ${stderr.trim().split('\n')[0] ?? error.message}`, {
                cause: error,
              }),
            );
        },
      );
      child.stdin?.end(script ?? '');
    });
  };
}

/** True when `nft` runs (the package `nftables`). */
export async function isNftAvailable(exec: NftExec = createNftExec()): Promise<boolean> {
  try {
    await exec(['--version']);
    return true;
  } catch {
    return false;
  }
}

/** The window as nftables: our own table only. */
export function createNftStartupWindow(exec: NftExec = createNftExec()): StartupWindowLayer {
  return {
    async open(allow) {
      await exec(['-f', '-'], startupRuleset(allow));
    },
    async updateOnLink(onLink) {
      await exec(['-f', '-'], onLinkUpdate(onLink));
    },
    async close() {
      // `table` then `delete table` in one transaction: no error when it is already gone.
      await exec(
        ['-f', '-'],
        `table inet ${STARTUP_TABLE}\ndelete table inet ${STARTUP_TABLE}\n`,
      );
    },
  };
}
